"""The schema as `create_all` made it before migrations (prices came in 0002).

A database made then is stamped here.

Revision ID: 0001
Revises: -
Create Date: 2026-11-29 19:30:06.308980
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0001'
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('reservations',
    sa.Column('order_id', sa.Uuid(), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.CheckConstraint("status IN ('HELD', 'CONFIRMED', 'RELEASED')", name='reservations_status'),
    sa.PrimaryKeyConstraint('order_id')
    )
    op.create_table('tickets',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('available', sa.Integer(), nullable=False),
    sa.CheckConstraint('available >= 0', name='tickets_available_not_negative'),
    sa.PrimaryKeyConstraint('id')
    )
    op.create_table('reservation_lines',
    sa.Column('order_id', sa.Uuid(), nullable=False),
    sa.Column('ticket_id', sa.Uuid(), nullable=False),
    sa.Column('quantity', sa.Integer(), nullable=False),
    sa.CheckConstraint('quantity > 0', name='reservation_lines_quantity_positive'),
    sa.ForeignKeyConstraint(['order_id'], ['reservations.order_id'], ),
    sa.ForeignKeyConstraint(['ticket_id'], ['tickets.id'], ),
    sa.PrimaryKeyConstraint('order_id', 'ticket_id')
    )


def downgrade() -> None:
    op.drop_table('reservation_lines')
    op.drop_table('tickets')
    op.drop_table('reservations')
