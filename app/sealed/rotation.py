"""Re-seal every stored secret as ``sealed:v2`` under the keyring's first key (and seal values still in clear).

Used by ``reprotect secrets rotate``. A sealed column's value is updated only if it is still the one read
(compare and set; a stored answer only if its claim token is), so a secret rotated through the API at the same
moment is never overwritten; running it again finishes what an interrupted run left. A value that does not open
is left as it is and reported, never stopping the others. (Migrations use their own frozen copies: ``migrations/``.)
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
from app.sealed.keyring import Keyring, KeyringError


@dataclass(frozen=True)
class SealedColumn:
    """A column holding sealed values: one sealed string, or JSON documents whose secrets are sealed."""

    table: str
    column: str
    key: tuple[tuple[str, TypeEngine[Any]], ...]  # the primary key's columns and types, in order
    document: bool = False
    # Columns read with the value and required unchanged by its update: the compare and set of a JSON column,
    # which has no equality on Postgres (a row claimed again meanwhile has another claim token).
    guard: tuple[tuple[str, TypeEngine[Any]], ...] = ()

    def clause(self) -> TableClause:
        stored = column(self.column, JSON if self.document else String)
        return table(self.table, *(column(name, type_) for name, type_ in (*self.key, *self.guard)), stored)


@dataclass(frozen=True)
class Resealed:
    """What a re-sealing did: how many values changed, and where the values are that did not open (left as
    they were, so one altered value does not hold up the rest of a key rotation)."""

    changed: int = 0
    unopened: tuple[tuple[Place, str], ...] = ()  # each place with the error's class (never the value)


_ID = (("id", Uuid()),)
# Every column of the models typed Sealed (app.sealed.column), and the documents app.sealed.documents seals.
SEALED_COLUMNS: tuple[SealedColumn, ...] = (
    SealedColumn("webhook_endpoints", "secret", _ID),
    SealedColumn("webhook_endpoints", "previous_secret", _ID),
    SealedColumn("reprotect_requests", "callback_secret", _ID),
    SealedColumn(
        "idempotency_keys",
        "response_body",
        (("owner", String()), ("key", String())),
        document=True,
        guard=(("claim_token", String()),),
    ),
)


def reseal_all(connection: Connection, keyring: Callable[[], Keyring]) -> Resealed:
    """Re-seal what is not a v2 value under the first key; a value that does not open (or whose key is gone) is
    left as it is and named. ``keyring`` is only called when there is something to look at (an empty database
    needs no key)."""
    changed = 0
    unopened: list[tuple[Place, str]] = []
    ring: Keyring | None = None
    for sealed in SEALED_COLUMNS:
        values = sealed.clause()
        stored_column = values.c[sealed.column]
        keys = [values.c[name] for name, _ in sealed.key]
        guards = [values.c[name] for name, _ in sealed.guard]
        query = select(*keys, *guards, stored_column).where(stored_column.is_not(None))
        if sealed.document:  # only documents that may hold a secret
            query = query.where(cast(stored_column, String).like("%secret%"))
        for *read, stored in connection.execute(query).all():
            ring = ring or keyring()
            row = tuple(read[: len(keys)])
            place = Place(table=sealed.table, column=sealed.column, row=row)
            try:
                fresh = _resealed(ring, stored, place=place, document=sealed.document)
            except KeyringError as exc:
                unopened.append((place, type(exc).__name__))
                continue
            if fresh == stored:
                continue
            where = [each == value for each, value in zip([*keys, *guards], read, strict=True)]
            if not sealed.document:  # JSON has no equality on Postgres: its guard columns stand in
                where.append(stored_column == stored)
            changed += connection.execute(update(values).where(*where).values({sealed.column: fresh})).rowcount
    return Resealed(changed=changed, unopened=tuple(unopened))


def _resealed(ring: Keyring, stored: Any, *, place: Place, document: bool) -> Any:
    if document:
        return change_secrets(stored, lambda value: envelope.reseal(ring, value, place=place))
    return envelope.reseal(ring, stored, place=place)
