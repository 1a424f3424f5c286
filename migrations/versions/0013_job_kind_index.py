"""an index for GET /jobs?kind=…: jobs of one kind, newest first

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-01 08:10:00
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0013"
down_revision: str | None = "0012"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index("ix_jobs_kind_created", "jobs", ["kind", "created_at", "id"])


def downgrade() -> None:
    op.drop_index("ix_jobs_kind_created", table_name="jobs")
