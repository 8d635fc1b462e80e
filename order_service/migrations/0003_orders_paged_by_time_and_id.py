"""`GET /orders` pages on (created_at, id): its indexes end with the id.

Orders created in the same microsecond are told apart by their id, so a page starts after the
last order of the one before, wherever it is in the index (keyset paging), instead of at its time.

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-03 09:00:00
"""

from __future__ import annotations

from alembic import op

revision = '0003'
down_revision = '0002'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index('ix_orders_created_at_id', 'orders', ['created_at', 'id'])
    op.create_index('ix_orders_status_created_at_id', 'orders', ['status', 'created_at', 'id'])
    op.drop_index('ix_orders_created_at', 'orders')
    op.drop_index('ix_orders_status_created_at', 'orders')


def downgrade() -> None:
    op.create_index('ix_orders_created_at', 'orders', ['created_at'])
    op.create_index('ix_orders_status_created_at', 'orders', ['status', 'created_at'])
    op.drop_index('ix_orders_created_at_id', 'orders')
    op.drop_index('ix_orders_status_created_at_id', 'orders')
