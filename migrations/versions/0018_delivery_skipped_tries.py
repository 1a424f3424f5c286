"""webhook deliveries count the tries skipped by a process that could not open the receiver's secret

A process without the key a secret is sealed under (or older than its format) leaves the delivery for another
one; its backoff now grows with these skipped tries, which are not attempts (nothing was sent).

Revision ID: 0018
Revises: 0017
Create Date: 2026-12-03 10:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0018"
down_revision: str | None = "0017"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("webhook_deliveries", sa.Column("skipped_tries", sa.Integer(), nullable=False, server_default="0"))


def downgrade() -> None:  # not a batch copy on SQLite: that would drop the expression indexes it cannot reflect
    op.drop_column("webhook_deliveries", "skipped_tries")
