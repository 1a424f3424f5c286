"""read path: an index per documented job filter (case-folded ARM ids and names), the summaries' partial
index over in-flight jobs, and the terminal counts table (filled from the existing jobs)

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-01 01:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Frozen here as migration 0001 froze it: the non-terminal states when this index was made.
_ACTIVE_SQL = "state IN ('accepted', 'reprotecting', 'submitting', 'syncing', 'validating')"
_FOLDED = ("vault_id", "vm_name", "item_id", "subscription_id")


def upgrade() -> None:
    op.create_index("ix_jobs_state_created", "jobs", ["state", "created_at", "id"])
    op.create_index("ix_jobs_request_created", "jobs", ["request_id", "created_at", "id"])
    op.create_index("ix_jobs_error_code_created", "jobs", ["error_code", "created_at", "id"])
    postgres = op.get_bind().dialect.name == "postgresql"
    for column in _FOLDED:
        name = f"ix_jobs_{column.removesuffix('_id')}_lower_created"
        # A restricted caller's scope is a LIKE on the lowercase vault id's prefix: text_pattern_ops lets
        # this index serve it (and the equality of the vault filter) whatever the database's collation.
        folded = f"lower({column}) text_pattern_ops" if postgres and column == "vault_id" else f"lower({column})"
        op.create_index(name, "jobs", [sa.text(folded), "created_at", "id"])
    op.create_index(
        "ix_jobs_active_summary",
        "jobs",
        ["state", "vault_id", "subscription_id", "eta_at"],
        sqlite_where=sa.text(_ACTIVE_SQL),
        postgresql_where=sa.text(_ACTIVE_SQL),
    )
    op.create_index(
        "ix_jobs_failed_codes",
        "jobs",
        [
            sa.text("lower(vault_id) text_pattern_ops" if postgres else "lower(vault_id)"),
            "error_code",
            "vault_id",
            "subscription_id",
        ],
        sqlite_where=sa.text("state = 'failed'"),
        postgresql_where=sa.text("state = 'failed'"),
    )
    op.create_table(
        "job_terminal_counts",
        sa.Column("vault_key", sa.String(400), nullable=False),
        sa.Column("subscription_id", sa.String(64), nullable=False),
        sa.Column("state", sa.String(20), nullable=False),
        sa.Column("count", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("vault_key", "subscription_id", "state", name=op.f("pk_job_terminal_counts")),
    )
    op.execute(
        "INSERT INTO job_terminal_counts (vault_key, subscription_id, state, count) "
        "SELECT lower(vault_id), subscription_id, state, count(*) FROM jobs "
        "WHERE state IN ('protected', 'failed', 'cancelled') GROUP BY lower(vault_id), subscription_id, state"
    )


def downgrade() -> None:
    op.drop_table("job_terminal_counts")
    for name in (
        "ix_jobs_failed_codes",
        "ix_jobs_active_summary",
        *(f"ix_jobs_{column.removesuffix('_id')}_lower_created" for column in _FOLDED),
        "ix_jobs_error_code_created",
        "ix_jobs_request_created",
        "ix_jobs_state_created",
    ):
        op.drop_index(name, table_name="jobs")
