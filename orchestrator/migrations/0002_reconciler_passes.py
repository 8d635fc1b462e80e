"""The reconciler's passes: when it last ran and what it repaired, for the dashboard and metrics.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-29 19:51:45.461527
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0002'
down_revision = '0001'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('reconciler_passes',
    sa.Column('name', sa.String(length=32), nullable=False),
    sa.Column('passes', sa.Integer(), nullable=False),
    sa.Column('last_pass_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('last_repair_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('last_repairs', sa.Text(), nullable=True),
    sa.Column('driven_total', sa.Integer(), nullable=False),
    sa.Column('checked_total', sa.Integer(), nullable=False),
    sa.Column('voided_total', sa.Integer(), nullable=False),
    sa.Column('started_total', sa.Integer(), nullable=False),
    sa.PrimaryKeyConstraint('name')
    )


def downgrade() -> None:
    op.drop_table('reconciler_passes')
