"""Re-seal every stored secret as ``sealed:v2`` under the keyring's first key (and seal values still in clear).

Used by ``reprotect secrets rotate``. A sealed column's value is updated only if it is still the one read
(compare and set), so a secret rotated through the API at the same moment is never overwritten; running it
again finishes what an interrupted run left. (Migrations use their own frozen copies: ``migrations/``.)
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import JSON, Connection, String, TableClause, Uuid, cast, column, select, table, update
from sqlalchemy.types import TypeEngine

from app.sealed import envelope
from app.sealed.documents import change_secrets
from app.sealed.envelope import Place
from app.sealed.keyring import Keyring


@dataclass(frozen=True)
class SealedColumn:
    """A column holding sealed values: one sealed string, or JSON documents whose secrets are sealed."""

    table: str
    column: str
    key: tuple[tuple[str, TypeEngine[Any]], ...]  # the primary key's columns and types, in order
    document: bool = False

    def clause(self) -> TableClause:
        stored = column(self.column, JSON if self.document else String)
        return table(self.table, *(column(name, type_) for name, type_ in self.key), stored)


_ID = (("id", Uuid()),)
# Every column of the models typed Sealed (app.sealed.column), and the documents app.sealed.documents seals.
SEALED_COLUMNS: tuple[SealedColumn, ...] = (
    SealedColumn("webhook_endpoints", "secret", _ID),
    SealedColumn("webhook_endpoints", "previous_secret", _ID),
    SealedColumn("reprotect_requests", "callback_secret", _ID),
    SealedColumn("idempotency_keys", "response_body", (("owner", String()), ("key", String())), document=True),
)


def reseal_all(connection: Connection, keyring: Callable[[], Keyring]) -> int:
    """Re-seal what is not a v2 value under the first key; the number of values changed. ``keyring`` is only
    called when there is something to look at (an empty database needs no key)."""
    changed = 0
    ring: Keyring | None = None
    for sealed in SEALED_COLUMNS:
        values = sealed.clause()
        stored_column = values.c[sealed.column]
        keys = [values.c[name] for name, _ in sealed.key]
        query = select(*keys, stored_column).where(stored_column.is_not(None))
        if sealed.document:  # only documents that may hold a secret
            query = query.where(cast(stored_column, String).like("%secret%"))
        for *row, stored in connection.execute(query).all():
            ring = ring or keyring()
            place = Place(table=sealed.table, column=sealed.column, row=tuple(row))
            fresh = _resealed(ring, stored, place=place, document=sealed.document)
            if fresh == stored:
                continue
            where = [key == value for key, value in zip(keys, row, strict=True)]
            if not sealed.document:  # JSON has no equality on Postgres; a stored answer is never rewritten anyway
                where.append(stored_column == stored)
            changed += connection.execute(update(values).where(*where).values({sealed.column: fresh})).rowcount
    return changed


def _resealed(ring: Keyring, stored: Any, *, place: Place, document: bool) -> Any:
    if document:
        return change_secrets(stored, lambda value: envelope.reseal(ring, value, place=place))
    return envelope.reseal(ring, stored, place=place)
