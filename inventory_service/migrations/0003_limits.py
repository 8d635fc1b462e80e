"""What one order may ask of a ticket and one customer hold of it, and what each customer holds.

Existing tickets get the default limits (6 and 6). Existing reservations have no customer: they
never counted against anyone, and giving them back takes nothing off anyone's count.

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-03 07:52:09.823351
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0003'
down_revision = '0002'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('customer_holdings',
    sa.Column('customer_id', sa.Uuid(), nullable=False),
    sa.Column('ticket_id', sa.Uuid(), nullable=False),
    sa.Column('held', sa.Integer(), nullable=False),
    sa.CheckConstraint('held >= 0', name='customer_holdings_held_not_negative'),
    sa.ForeignKeyConstraint(['ticket_id'], ['tickets.id'], ),
    sa.PrimaryKeyConstraint('customer_id', 'ticket_id')
    )
    with op.batch_alter_table('reservations', schema=None) as batch_op:
        batch_op.add_column(sa.Column('customer_id', sa.Uuid(), nullable=True))

    with op.batch_alter_table('tickets', schema=None) as batch_op:
        batch_op.add_column(sa.Column('max_per_order', sa.Integer(), server_default='6',
                                      nullable=False))
        batch_op.add_column(sa.Column('max_per_customer', sa.Integer(), server_default='6',
                                      nullable=False))
        # (autogenerate does not see check constraints: written by hand, as the model has it)
        batch_op.create_check_constraint('tickets_limits',
                                         'max_per_order >= 1 AND max_per_customer >= 1')


def downgrade() -> None:
    with op.batch_alter_table('tickets', schema=None) as batch_op:
        batch_op.drop_constraint('tickets_limits', type_='check')
        batch_op.drop_column('max_per_customer')
        batch_op.drop_column('max_per_order')

    with op.batch_alter_table('reservations', schema=None) as batch_op:
        batch_op.drop_column('customer_id')

    op.drop_table('customer_holdings')
