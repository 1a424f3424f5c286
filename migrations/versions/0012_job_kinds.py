"""jobs get a kind: reprotect (every existing row), drill (test failover) or drill_cleanup (its cleanup)

The one-active-job-per-VM index ``uq_jobs_active_vm`` stays on ``vm_key`` alone, so it holds across kinds: a
VM with a reprotect running cannot start a drill, and the other way round (docs/campaigns.md).

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-01 05:30:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0012"
down_revision: str | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


# Plain ALTER TABLE on both databases (SQLite 3.35+ drops a column in place): a batch copy of ``jobs`` would
# lose its expression indexes, which SQLAlchemy cannot reflect.
def upgrade() -> None:
    op.add_column("jobs", sa.Column("kind", sa.String(length=20), nullable=False, server_default="reprotect"))


def downgrade() -> None:
    op.drop_column("jobs", "kind")
