"""An Idempotency-Key is its customer's own: unique per customer, no longer across customers.

Before, one customer's key answered another customer's request with the first one's order.
SQLite cannot drop a constraint in place, and the baseline's was unnamed there: the table is
copied from its known shape (PostgreSQL named it `orders_idempotency_key_key` itself).

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-29 19:50:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0002'
down_revision = '0001'
branch_labels = None
depends_on = None

GLOBAL_KEY = "orders_idempotency_key_key"
CUSTOMERS_KEY = "uq_orders_customer_idempotency_key"


def orders_as_in_0001() -> sa.Table:
    return sa.Table(
        'orders', sa.MetaData(),
        sa.Column('id', sa.Uuid(), nullable=False),
        sa.Column('customer_id', sa.Uuid(), nullable=False),
        sa.Column('amount', sa.BigInteger(), nullable=False),
        sa.Column('status', sa.String(length=20), nullable=False),
        sa.Column('reason', sa.String(length=500), nullable=True),
        sa.Column('idempotency_key', sa.String(length=255), nullable=True),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint('id'),
        sa.UniqueConstraint('idempotency_key', name=GLOBAL_KEY),
        sa.Index('ix_orders_created_at', 'created_at'),
        sa.Index('ix_orders_status_created_at', 'status', 'created_at'),
    )


def upgrade() -> None:
    with op.batch_alter_table('orders', copy_from=orders_as_in_0001()) as batch_op:
        batch_op.drop_constraint(GLOBAL_KEY, type_='unique')
        batch_op.create_unique_constraint(CUSTOMERS_KEY, ['customer_id', 'idempotency_key'])


def downgrade() -> None:
    # Fails if two customers have since used the same key: which order keeps it is a person's call.
    table = orders_as_in_0001()
    table.append_constraint(sa.UniqueConstraint('customer_id', 'idempotency_key',
                                                name=CUSTOMERS_KEY))
    with op.batch_alter_table('orders', copy_from=table) as batch_op:
        batch_op.drop_constraint(CUSTOMERS_KEY, type_='unique')
        batch_op.create_unique_constraint(GLOBAL_KEY, ['idempotency_key'])
