"""logs and health: the API request id on jobs and their history; heartbeats of workers and the scheduler

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-01 04:30:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from app.db import UtcDateTime

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("jobs", sa.Column("origin_request_id", sa.String(128), nullable=True))
    op.add_column("job_transitions", sa.Column("request_id", sa.String(128), nullable=True))
    op.create_table(
        "process_heartbeats",
        sa.Column("id", sa.String(200), nullable=False),
        sa.Column("kind", sa.String(20), nullable=False),
        sa.Column("host", sa.String(200), nullable=False),
        sa.Column("pid", sa.Integer(), nullable=False),
        sa.Column("started_at", UtcDateTime(timezone=True), nullable=False),
        sa.Column("seen_at", UtcDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_process_heartbeats")),
    )
    op.create_index(op.f("ix_process_heartbeats_kind"), "process_heartbeats", ["kind"])


def downgrade() -> None:
    op.drop_index(op.f("ix_process_heartbeats_kind"), table_name="process_heartbeats")
    op.drop_table("process_heartbeats")
    op.drop_column("job_transitions", "request_id")
    op.drop_column("jobs", "origin_request_id")
