"""The trace of each payment's request and of its result's message (W3C traceparent).

The payment API stores the trace it was called in with the payment; the relay copies it into the
outbox row of the payment's result and publishes the message in that trace
(glastonbury.tracing). Both are null when tracing is off.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-29 22:31:08.265285
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0002'
down_revision = '0001'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('payment_outbox', schema=None) as batch_op:
        batch_op.add_column(sa.Column('traceparent', sa.String(length=55), nullable=True))
    with op.batch_alter_table('payments', schema=None) as batch_op:
        batch_op.add_column(sa.Column('traceparent', sa.String(length=55), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('payments', schema=None) as batch_op:
        batch_op.drop_column('traceparent')
    with op.batch_alter_table('payment_outbox', schema=None) as batch_op:
        batch_op.drop_column('traceparent')
