"""heartbeats name their broker: a worker connected to another broker than the API's is seen, not silent

Each heartbeat row carries a fingerprint of its process's broker URL (``app.health.heartbeat.broker_fingerprint``:
a hash of the URL without its password); ``GET /status`` counts only the workers on its own broker as alive and
names the others.

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-01 05:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("process_heartbeats") as batch:
        batch.add_column(sa.Column("broker", sa.String(length=32), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("process_heartbeats") as batch:
        batch.drop_column("broker")
