"""jobs and webhook deliveries count the doorbells the sweeper rang that no worker answered yet

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-01 15:30:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0015"
down_revision: str | None = "0014"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TABLES = ("jobs", "webhook_deliveries")


def upgrade() -> None:
    for table in TABLES:
        op.add_column(table, sa.Column("unanswered_rings", sa.Integer(), nullable=False, server_default="0"))


def downgrade() -> None:
    for table in TABLES:  # not a batch copy on SQLite: that would drop the expression indexes it cannot reflect
        op.drop_column(table, "unanswered_rings")
