"""jobs, requests and history

Revision ID: 0001
Revises:
Create Date: 2026-11-24 20:12:27.765241
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from app.db import UtcDateTime

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "reprotect_requests",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("created_at", UtcDateTime(), nullable=False),
        sa.Column("vm_count", sa.Integer(), nullable=False),
        sa.Column("requested_by", sa.String(length=200), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_reprotect_requests")),
    )
    with op.batch_alter_table("reprotect_requests", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_reprotect_requests_created_at"), ["created_at"], unique=False)

    op.create_table(
        "jobs",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("request_id", sa.Uuid(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("vm_key", sa.String(length=600), nullable=False),
        sa.Column("vm_name", sa.String(length=200), nullable=False),
        sa.Column("vault_id", sa.String(length=400), nullable=False),
        sa.Column("subscription_id", sa.String(length=64), nullable=False),
        sa.Column("item_id", sa.String(length=800), nullable=False),
        sa.Column("new_item_id", sa.String(length=800), nullable=True),
        sa.Column("customization", sa.JSON(), nullable=False),
        sa.Column("plan", sa.JSON(), nullable=False),
        sa.Column("state", sa.String(length=20), nullable=False),
        sa.Column("attempt", sa.Integer(), nullable=False),
        sa.Column("failed_in", sa.String(length=20), nullable=True),
        sa.Column("error_code", sa.String(length=100), nullable=True),
        sa.Column("error_message", sa.Text(), nullable=True),
        sa.Column("error_details", sa.JSON(), nullable=True),
        sa.Column("asr_job_id", sa.String(length=800), nullable=True),
        sa.Column("asr_job_name", sa.String(length=100), nullable=True),
        sa.Column("asr_job_state", sa.String(length=30), nullable=True),
        sa.Column("asr_tasks", sa.JSON(), nullable=False),
        sa.Column("resync_percent", sa.Integer(), nullable=True),
        sa.Column("estimated_seconds", sa.Double(), nullable=True),
        sa.Column("eta_at", UtcDateTime(), nullable=True),
        sa.Column("next_due_at", UtcDateTime(), nullable=True),
        sa.Column("dispatched_at", UtcDateTime(), nullable=True),
        sa.Column("lease_owner", sa.String(length=200), nullable=True),
        sa.Column("lease_until", UtcDateTime(), nullable=True),
        sa.Column("transient_failures", sa.Integer(), nullable=False),
        sa.Column("deadline_at", UtcDateTime(), nullable=False),
        sa.Column("requested_by", sa.String(length=200), nullable=True),
        sa.Column("created_at", UtcDateTime(), nullable=False),
        sa.Column("updated_at", UtcDateTime(), nullable=False),
        sa.Column("submitted_at", UtcDateTime(), nullable=True),
        sa.Column("finished_at", UtcDateTime(), nullable=True),
        sa.ForeignKeyConstraint(
            ["request_id"], ["reprotect_requests.id"], name=op.f("fk_jobs_request_id_reprotect_requests")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_jobs")),
    )
    with op.batch_alter_table("jobs", schema=None) as batch_op:
        batch_op.create_index("ix_jobs_created", ["created_at", "id"], unique=False)
        batch_op.create_index("ix_jobs_due", ["next_due_at"], unique=False)
        batch_op.create_index(batch_op.f("ix_jobs_request_id"), ["request_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_jobs_state"), ["state"], unique=False)
        batch_op.create_index(batch_op.f("ix_jobs_vault_id"), ["vault_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_jobs_vm_name"), ["vm_name"], unique=False)
        batch_op.create_index(
            "uq_jobs_active_vm",
            ["vm_key"],
            unique=True,
            sqlite_where=sa.text("state IN ('accepted', 'reprotecting', 'submitting', 'syncing', 'validating')"),
            postgresql_where=sa.text("state IN ('accepted', 'reprotecting', 'submitting', 'syncing', 'validating')"),
        )

    op.create_table(
        "job_transitions",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("job_id", sa.Uuid(), nullable=False),
        sa.Column("attempt", sa.Integer(), nullable=False),
        sa.Column("from_state", sa.String(length=20), nullable=True),
        sa.Column("to_state", sa.String(length=20), nullable=False),
        sa.Column("at", UtcDateTime(), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("actor", sa.String(length=200), nullable=False),
        sa.ForeignKeyConstraint(
            ["job_id"], ["jobs.id"], name=op.f("fk_job_transitions_job_id_jobs"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_job_transitions")),
    )
    with op.batch_alter_table("job_transitions", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_job_transitions_job_id"), ["job_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("job_transitions", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_job_transitions_job_id"))

    op.drop_table("job_transitions")
    with op.batch_alter_table("jobs", schema=None) as batch_op:
        batch_op.drop_index(
            "uq_jobs_active_vm",
            sqlite_where=sa.text("state IN ('accepted', 'reprotecting', 'submitting', 'syncing', 'validating')"),
            postgresql_where=sa.text("state IN ('accepted', 'reprotecting', 'submitting', 'syncing', 'validating')"),
        )
        batch_op.drop_index(batch_op.f("ix_jobs_vm_name"))
        batch_op.drop_index(batch_op.f("ix_jobs_vault_id"))
        batch_op.drop_index(batch_op.f("ix_jobs_state"))
        batch_op.drop_index(batch_op.f("ix_jobs_request_id"))
        batch_op.drop_index("ix_jobs_due")
        batch_op.drop_index("ix_jobs_created")

    op.drop_table("jobs")
    with op.batch_alter_table("reprotect_requests", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_reprotect_requests_created_at"))

    op.drop_table("reprotect_requests")
