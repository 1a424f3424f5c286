"""Re-seal every stored secret under the keyring's first key (and seal values still in clear).

Used by the migration that introduced encryption and by ``reprotect secrets rotate``. Each value is
updated only if it is still the one read (compare and set), so a secret rotated through the API at the
same moment is never overwritten; running it again finishes what an interrupted run left.
"""

from __future__ import annotations

from collections.abc import Callable

from sqlalchemy import Connection, String, column, select, table, update

from app.sealed import envelope
from app.sealed.keyring import Keyring

# (table, primary key, secret columns): every column typed SealedString in the models.
SEALED_COLUMNS: tuple[tuple[str, str, tuple[str, ...]], ...] = (
    ("webhook_endpoints", "id", ("secret", "previous_secret")),
    ("reprotect_requests", "id", ("callback_secret",)),
)


def reseal_all(connection: Connection, keyring: Callable[[], Keyring]) -> int:
    """Re-seal what is not sealed under the first key; the number of values changed. ``keyring`` is only
    called when there is something to change (an empty database needs no key)."""
    changed = 0
    ring: Keyring | None = None
    for table_name, key_name, names in SEALED_COLUMNS:
        for name in names:
            values = table(table_name, column(key_name), column(name, String))
            rows = connection.execute(select(values.c[key_name], values.c[name]).where(values.c[name].is_not(None)))
            for row_id, stored in rows.all():
                ring = ring or keyring()
                fresh = envelope.reseal(ring, stored)
                if fresh == stored:
                    continue
                statement = (
                    update(values).where(values.c[key_name] == row_id, values.c[name] == stored).values({name: fresh})
                )
                changed += connection.execute(statement).rowcount
    return changed


def unseal_all(connection: Connection, keyring: Callable[[], Keyring]) -> int:
    """Every sealed value back in clear (the downgrade of the migration that sealed them)."""
    changed = 0
    for table_name, key_name, names in SEALED_COLUMNS:
        for name in names:
            values = table(table_name, column(key_name), column(name, String))
            rows = connection.execute(select(values.c[key_name], values.c[name]).where(values.c[name].is_not(None)))
            for row_id, stored in rows.all():
                if envelope.is_sealed(stored):
                    clear = envelope.unseal(keyring(), stored)
                    statement = update(values).where(values.c[key_name] == row_id).values({name: clear})
                    changed += connection.execute(statement).rowcount
    return changed
