"""Each ticket's price: the catalogue, not the client, says what a ticket costs.

A database made by `create_all` after prices came in has the column already; one made before
has not. Either way the brief's day-one ticket gets its price; other tickets keep theirs.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-29 19:40:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0002'
down_revision = '0001'
branch_labels = None
depends_on = None


def upgrade() -> None:
    columns = {column["name"] for column in sa.inspect(op.get_bind()).get_columns("tickets")}
    if "price" not in columns:
        with op.batch_alter_table('tickets', schema=None) as batch_op:
            batch_op.add_column(sa.Column('price', sa.Numeric(precision=12, scale=2),
                                          nullable=True))
    op.execute("UPDATE tickets SET price = 200.00 WHERE price IS NULL AND name = 'day-one'")


def downgrade() -> None:
    with op.batch_alter_table('tickets', schema=None) as batch_op:
        batch_op.drop_column('price')
