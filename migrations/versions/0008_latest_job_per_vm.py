"""inventory: an index on (vm_key, created_at, id), so our latest job per VM is an index lookup per VM

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-01 02:00:00
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index("ix_jobs_vm_latest", "jobs", ["vm_key", "created_at", "id"])


def downgrade() -> None:
    op.drop_index("ix_jobs_vm_latest", table_name="jobs")
