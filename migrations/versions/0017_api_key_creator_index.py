"""an index on api_keys.created_by: revoking a key finds the keys it created (and theirs) without a scan

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-02 09:30:00
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0017"
down_revision: str | None = "0016"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index("ix_api_keys_created_by", "api_keys", ["created_by"])


def downgrade() -> None:
    op.drop_index("ix_api_keys_created_by", table_name="api_keys")
