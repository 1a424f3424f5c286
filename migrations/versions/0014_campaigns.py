"""campaigns: a set of VMs taken home phase by phase and wave by wave (issue 15, slice 3)

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-01 12:00:00
"""

import warnings
from collections.abc import Iterator, Sequence
from contextlib import contextmanager

import sqlalchemy as sa
from alembic import op

from app.db import UtcDateTime

revision: str = "0014"
down_revision: str | None = "0013"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


@contextmanager
def _quiet_reflection() -> Iterator[None]:
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="Skipped unsupported reflection", category=sa.exc.SAWarning)
        yield


def upgrade() -> None:
    op.create_table(
        "campaigns",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("state", sa.String(20), nullable=False),
        sa.Column("step_index", sa.Integer(), nullable=False),
        sa.Column("options", sa.JSON(), nullable=False),
        sa.Column("stop_reason", sa.Text(), nullable=True),
        sa.Column("blocked_reason", sa.Text(), nullable=True),
        sa.Column("history", sa.JSON(), nullable=False),
        sa.Column("vault_ids", sa.JSON(), nullable=False),
        sa.Column("created_by", sa.String(200), nullable=True),
        sa.Column("created_at", UtcDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", UtcDateTime(timezone=True), nullable=False),
        sa.Column("next_due_at", UtcDateTime(timezone=True), nullable=True),
        sa.Column("finished_at", UtcDateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_campaigns")),
    )
    op.create_index(op.f("ix_campaigns_state"), "campaigns", ["state"])
    op.create_index(op.f("ix_campaigns_created_at"), "campaigns", ["created_at"])
    op.create_index(op.f("ix_campaigns_next_due_at"), "campaigns", ["next_due_at"])
    op.create_table(
        "campaign_steps",
        sa.Column("campaign_id", sa.Uuid(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("phase", sa.String(20), nullable=False),
        sa.Column("wave", sa.Integer(), nullable=True),
        sa.Column("state", sa.String(20), nullable=False),
        sa.Column("jobs", sa.JSON(), nullable=False),
        sa.Column("skipped", sa.JSON(), nullable=False),
        sa.Column("refused", sa.JSON(), nullable=False),
        sa.Column("started_at", UtcDateTime(timezone=True), nullable=True),
        sa.Column("finished_at", UtcDateTime(timezone=True), nullable=True),
        sa.Column("gate", sa.String(10), nullable=False),
        sa.Column("gate_state", sa.String(10), nullable=True),
        sa.Column("gate_checks", sa.JSON(), nullable=False),
        sa.Column("gate_results", sa.JSON(), nullable=False),
        sa.Column("gate_decided_by", sa.String(200), nullable=True),
        sa.Column("gate_reason", sa.Text(), nullable=True),
        sa.Column("gate_decided_at", UtcDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["campaign_id"], ["campaigns.id"], name=op.f("fk_campaign_steps_campaign_id_campaigns"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("campaign_id", "position", name=op.f("pk_campaign_steps")),
    )
    op.create_table(
        "campaign_vms",
        sa.Column("campaign_id", sa.Uuid(), nullable=False),
        sa.Column("vm_key", sa.String(600), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("vm_name", sa.String(200), nullable=False),
        sa.Column("vault_id", sa.String(400), nullable=False),
        sa.Column("wave", sa.Integer(), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.ForeignKeyConstraint(
            ["campaign_id"], ["campaigns.id"], name=op.f("fk_campaign_vms_campaign_id_campaigns"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("campaign_id", "vm_key", name=op.f("pk_campaign_vms")),
    )
    op.create_index(
        "uq_campaign_vms_active_vm",
        "campaign_vms",
        ["vm_key"],
        unique=True,
        sqlite_where=sa.text("active"),
        postgresql_where=sa.text("active"),
    )

    # A campaign's events are about the campaign, not one request (webhook events and deliveries). On SQLite the
    # batch rebuild reflects the tables around, and SQLAlchemy cannot reflect jobs' expression index (harmless).
    for table in ("webhook_events", "webhook_deliveries"):
        with _quiet_reflection(), op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.alter_column("request_id", existing_type=sa.Uuid(), nullable=True)
            batch_op.add_column(sa.Column("campaign_id", sa.Uuid(), nullable=True))
            batch_op.create_index(batch_op.f(f"ix_{table}_campaign_id"), ["campaign_id"], unique=False)
            batch_op.create_foreign_key(
                batch_op.f(f"fk_{table}_campaign_id_campaigns"), "campaigns", ["campaign_id"], ["id"]
            )


def downgrade() -> None:
    for table in ("webhook_deliveries", "webhook_events"):
        op.execute(f"DELETE FROM {table} WHERE request_id IS NULL")  # noqa: S608 - our tables; campaign events
        with _quiet_reflection(), op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.drop_constraint(batch_op.f(f"fk_{table}_campaign_id_campaigns"), type_="foreignkey")
            batch_op.drop_index(batch_op.f(f"ix_{table}_campaign_id"))
            batch_op.drop_column("campaign_id")
            batch_op.alter_column("request_id", existing_type=sa.Uuid(), nullable=False)
    op.drop_index("uq_campaign_vms_active_vm", table_name="campaign_vms")
    op.drop_table("campaign_vms")
    op.drop_table("campaign_steps")
    op.drop_index(op.f("ix_campaigns_next_due_at"), table_name="campaigns")
    op.drop_index(op.f("ix_campaigns_created_at"), table_name="campaigns")
    op.drop_index(op.f("ix_campaigns_state"), table_name="campaigns")
    op.drop_table("campaigns")
