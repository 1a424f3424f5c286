"""secrets at rest: webhook signing secrets widened for envelope encryption and sealed

The endpoints' current and previous secrets and the requests' callback secrets are widened and the values
already stored are sealed here (format ``sealed:v1``), under the first key of ``REPROTECT_SECRETS__KEYS`` (or
the local key file outside production). The downgrade opens them again. The format and the re-sealing are
the frozen copy in ``migrations/_sealed_v1.py``, not the live ``app.sealed``: what this migration does must
not change when the application's sealing does (migration 0016 moves the values to ``sealed:v2``).

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-01 04:30:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from migrations import _sealed_keys, _sealed_v1

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_COLUMNS = (("webhook_endpoints", "secret", False), ("webhook_endpoints", "previous_secret", True))
_CALLBACK = ("reprotect_requests", "callback_secret", True)


def _retype(old: int, new: int) -> None:
    for table_name, name, nullable in (*_COLUMNS, _CALLBACK):
        with op.batch_alter_table(table_name) as batch_op:
            batch_op.alter_column(
                name, existing_type=sa.String(length=old), type_=sa.String(length=new), existing_nullable=nullable
            )


def upgrade() -> None:
    _retype(100, 500)
    _sealed_v1.reseal_all(op.get_bind(), _sealed_keys.configured)


def downgrade() -> None:
    _sealed_v1.unseal_all(op.get_bind(), _sealed_keys.configured)
    _retype(500, 100)
