"""secrets at rest: every stored secret re-sealed as sealed:v2, bound to its table, column and row

A ``sealed:v1`` value (0010) opens in any row: copied from one webhook endpoint to another, it would sign the
second one's deliveries. Here every v1 value (and any secret still in clear in a stored idempotent answer) is
sealed afresh as v2, whose associated data names its place, under the first key of ``REPROTECT_SECRETS__KEYS``;
the downgrade seals them back as v1. The formats are the frozen copies in ``migrations/`` (never the live
``app.sealed``). The migration needs the keys, as 0010 did; an empty database needs none.

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-02 09:00:00
"""

from collections.abc import Sequence

from alembic import op

from migrations import _sealed_keys, _sealed_v2

revision: str = "0016"
down_revision: str | None = "0015"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    _sealed_v2.upgrade_all(op.get_bind(), _sealed_keys.configured)


def downgrade() -> None:
    _sealed_v2.downgrade_all(op.get_bind(), _sealed_keys.configured)
