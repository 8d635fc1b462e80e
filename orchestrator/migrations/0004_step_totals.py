"""Each step's running totals (the metrics' and the dashboard's counts of runs, read in one row a
step instead of a scan of every step's record), taken from the records there already; and the
indexes that find the few rows the dashboard and the reconciler look for among the finished.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-30 02:31:10.425647
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0004'
down_revision = '0003'
branch_labels = None
depends_on = None

# As of this revision (a migration never imports the models): the duration buckets, in seconds,
# and the outcomes that pass a step where a business "no" is possible.
BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0,
           900.0)
PASSING = {"reserve_tickets": "reserved", "await_payment": "approved"}


def upgrade() -> None:
    op.create_table(
        'step_totals',
        sa.Column('name', sa.String(length=64), nullable=False),
        sa.Column('passed', sa.Integer(), nullable=False),
        sa.Column('failed', sa.Integer(), nullable=False),
        sa.Column('seconds', sa.Float(), nullable=False),
        *(sa.Column(f'within_{index}', sa.Integer(), nullable=False)
          for index in range(len(BUCKETS) + 1)),
        sa.PrimaryKeyConstraint('name'),
    )
    with op.batch_alter_table('saga_steps', schema=None) as batch_op:
        batch_op.create_index('ix_saga_steps_name_ended_at', ['name', 'ended_at'], unique=False)
        batch_op.create_index('ix_saga_steps_outcome', ['outcome'], unique=False)
        batch_op.create_index('ix_saga_steps_unfinished', ['order_id'], unique=False,
                              postgresql_where=sa.text('ended_at IS NULL'),
                              sqlite_where=sa.text('ended_at IS NULL'))
    with op.batch_alter_table('sagas', schema=None) as batch_op:
        batch_op.create_index('ix_sagas_parked', ['order_id'], unique=False,
                              postgresql_where=sa.text('parked IS true'),
                              sqlite_where=sa.text('parked IS 1'))
        batch_op.create_index('ix_sagas_to_void', ['updated_at'], unique=False,
                              postgresql_where=sa.text('payment_to_void IS true'),
                              sqlite_where=sa.text('payment_to_void IS 1'))
    op.execute(_totals_of_the_records())


def _totals_of_the_records() -> str:
    """INSERT INTO step_totals the finished records' totals, in the database's date arithmetic."""
    if op.get_bind().dialect.name == "postgresql":
        seconds = "GREATEST(EXTRACT(EPOCH FROM ended_at - started_at), 0)"
    else:
        seconds = "MAX((julianday(ended_at) - julianday(started_at)) * 86400.0, 0)"
    failed = " OR ".join(["outcome = 'failed'", *(f"(name = '{step}' AND outcome <> '{yes}')"
                                                  for step, yes in PASSING.items())])
    lower = (None, *BUCKETS)
    within = [f"SUM(CASE WHEN s > {low} AND s <= {high} THEN 1 ELSE 0 END)"
              if low is not None else f"SUM(CASE WHEN s <= {high} THEN 1 ELSE 0 END)"
              for low, high in zip(lower, BUCKETS, strict=False)]
    within.append(f"SUM(CASE WHEN s > {BUCKETS[-1]} THEN 1 ELSE 0 END)")
    columns = ", ".join(f"within_{index}" for index in range(len(BUCKETS) + 1))
    return (f"INSERT INTO step_totals (name, passed, failed, seconds, {columns}) "
            f"SELECT name, SUM(1 - f), SUM(f), SUM(s), {', '.join(within)} FROM "
            f"(SELECT name, {seconds} AS s, CASE WHEN {failed} THEN 1 ELSE 0 END AS f "
            f"FROM saga_steps WHERE ended_at IS NOT NULL) AS ended GROUP BY name")


def downgrade() -> None:
    with op.batch_alter_table('sagas', schema=None) as batch_op:
        batch_op.drop_index('ix_sagas_to_void')
        batch_op.drop_index('ix_sagas_parked')
    with op.batch_alter_table('saga_steps', schema=None) as batch_op:
        batch_op.drop_index('ix_saga_steps_unfinished')
        batch_op.drop_index('ix_saga_steps_outcome')
        batch_op.drop_index('ix_saga_steps_name_ended_at')
    op.drop_table('step_totals')
