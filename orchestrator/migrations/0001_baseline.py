"""The schema as `create_all` made it before migrations.

A database made then is stamped here.

Revision ID: 0001
Revises: -
Create Date: 2026-11-29 19:30:08.298296
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0001'
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('processed_events',
    sa.Column('event_id', sa.String(length=64), nullable=False),
    sa.Column('order_id', sa.String(length=64), nullable=False),
    sa.Column('processed_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('event_id')
    )
    op.create_table('saga_steps',
    sa.Column('order_id', sa.String(length=64), nullable=False),
    sa.Column('name', sa.String(length=64), nullable=False),
    sa.Column('started_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('ended_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('outcome', sa.String(length=64), nullable=True),
    sa.Column('error', sa.Text(), nullable=True),
    sa.Column('task_id', sa.String(length=64), nullable=True),
    sa.PrimaryKeyConstraint('order_id', 'name')
    )
    op.create_table('sagas',
    sa.Column('order_id', sa.String(length=64), nullable=False),
    sa.Column('state', sa.String(length=32), nullable=False),
    sa.Column('outcome', sa.String(length=32), nullable=True),
    sa.Column('reason', sa.Text(), nullable=True),
    sa.Column('customer_id', sa.String(length=64), nullable=False),
    sa.Column('total', sa.String(length=32), nullable=False),
    sa.Column('lines', sa.Text(), nullable=False),
    sa.Column('payment_requested', sa.Boolean(), nullable=False),
    sa.Column('payment_deadline', sa.DateTime(timezone=True), nullable=True),
    sa.Column('payment_to_void', sa.Boolean(), nullable=False),
    sa.Column('drives', sa.Integer(), nullable=False),
    sa.Column('parked', sa.Boolean(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('order_id')
    )
    with op.batch_alter_table('sagas', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_sagas_state'), ['state'], unique=False)
        batch_op.create_index(batch_op.f('ix_sagas_updated_at'), ['updated_at'], unique=False)



def downgrade() -> None:
    with op.batch_alter_table('sagas', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_sagas_updated_at'))
        batch_op.drop_index(batch_op.f('ix_sagas_state'))

    op.drop_table('sagas')
    op.drop_table('saga_steps')
    op.drop_table('processed_events')
