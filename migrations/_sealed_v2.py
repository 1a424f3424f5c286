"""Frozen copy of the ``sealed:v2`` format and of the re-sealing migration 0016 runs, as they were then.

Never edit this file (why: ``_sealed_v1``). A value reads ``sealed:v2:<key name>:<base64url>``: the wrap
nonce, the data key wrapped under the named key (AES-256-GCM, the key name as associated data), the value's
nonce and the value under the data key (AES-256-GCM, its place as associated data: the JSON array
``["reprotect-secret-v2", table, column, *primary key as text]``, so a value copied to another row does not open).
"""

from __future__ import annotations

import base64
import json
import os
from collections.abc import Callable, Sequence
from typing import Any

from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from sqlalchemy import JSON, Connection, String, Uuid, cast, column, select, table, update

from migrations import _sealed_v1

Keys = tuple[tuple[str, bytes], ...]  # (name, 32-byte key) in order: the first encrypts, every one decrypts

PREFIX = "sealed:v2:"
_KEY_BYTES = 32
_NONCE = 12
_WRAPPED = _KEY_BYTES + 16

# (table, column, primary key columns and types, whether the column holds JSON documents) as they were at 0016.
_ID = (("id", Uuid()),)
COLUMNS: tuple[tuple[str, str, tuple[tuple[str, Any], ...], bool], ...] = (
    ("webhook_endpoints", "secret", _ID, False),
    ("webhook_endpoints", "previous_secret", _ID, False),
    ("reprotect_requests", "callback_secret", _ID, False),
    ("idempotency_keys", "response_body", (("owner", String()), ("key", String())), True),
)


def _associated_data(table_name: str, column_name: str, row: Sequence[object]) -> bytes:
    return json.dumps(["reprotect-secret-v2", table_name, column_name, *map(str, row)]).encode()


def seal(keys: Keys, plaintext: str, *, place: bytes) -> str:
    """``plaintext`` under a fresh data key wrapped by the first key, bound to ``place``."""
    name, kek = keys[0]
    data_key = AESGCM.generate_key(bit_length=_KEY_BYTES * 8)
    wrap_nonce, nonce = os.urandom(_NONCE), os.urandom(_NONCE)
    wrapped = AESGCM(kek).encrypt(wrap_nonce, data_key, name.encode())
    body = nonce + AESGCM(data_key).encrypt(nonce, plaintext.encode(), place)
    return f"{PREFIX}{name}:{base64.urlsafe_b64encode(wrap_nonce + wrapped + body).decode().rstrip('=')}"


def unseal(keys: Keys, stored: str, *, place: bytes) -> str:
    """The plaintext of a v2 value stored at ``place`` (InvalidTag if it was sealed for another place)."""
    name, _, encoded = stored.removeprefix(PREFIX).partition(":")
    raw = base64.urlsafe_b64decode(encoded + "=" * (-len(encoded) % 4))
    envelope, body = raw[: _NONCE + _WRAPPED], raw[_NONCE + _WRAPPED :]
    kek = next((key for known, key in keys if known == name), None)
    if kek is None:
        raise ValueError(f"no key named {name!r} in REPROTECT_SECRETS__KEYS (was it removed before a rotation?)")
    data_key = AESGCM(kek).decrypt(envelope[:_NONCE], envelope[_NONCE:], name.encode())
    return AESGCM(data_key).decrypt(body[:_NONCE], body[_NONCE:], place).decode()


def _to_v2(keys: Keys, stored: str, place: bytes) -> str:
    return stored if stored.startswith(PREFIX) else seal(keys, _sealed_v1.unseal(keys, stored), place=place)


def _to_v1(keys: Keys, stored: str, place: bytes) -> str:
    return _sealed_v1.seal(keys, unseal(keys, stored, place=place)) if stored.startswith(PREFIX) else stored


def _change_secrets(document: Any, change: Callable[[str], str]) -> Any:
    if isinstance(document, dict):
        return {
            key: change(value)
            if isinstance(key, str) and key.lower().endswith("secret") and isinstance(value, str)
            else _change_secrets(value, change)
            for key, value in document.items()
        }
    if isinstance(document, list):
        return [_change_secrets(item, change) for item in document]
    return document


def _convert(connection: Connection, keys: Callable[[], Keys], change: Callable[[Keys, str, bytes], str]) -> int:
    changed = 0
    ring: Keys | None = None
    for table_name, column_name, key_columns, document in COLUMNS:
        stored_type = JSON if document else String
        values = table(
            table_name, *(column(name, type_) for name, type_ in key_columns), column(column_name, stored_type)
        )
        stored_column = values.c[column_name]
        keys_of_row = [values.c[name] for name, _ in key_columns]
        query = select(*keys_of_row, stored_column).where(stored_column.is_not(None))
        if document:
            query = query.where(cast(stored_column, String).like("%secret%"))
        for *row, stored in connection.execute(query).all():
            ring = ring or keys()
            place = _associated_data(table_name, column_name, row)
            if document:
                fresh = _change_secrets(stored, lambda value, ring=ring, place=place: change(ring, value, place))
            else:
                fresh = change(ring, stored, place)
            if fresh == stored:
                continue
            where = [key == value for key, value in zip(keys_of_row, row, strict=True)]
            if not document:  # compare and set (JSON has no equality on Postgres)
                where.append(stored_column == stored)
            changed += connection.execute(update(values).where(*where).values({column_name: fresh})).rowcount
    return changed


def upgrade_all(connection: Connection, keys: Callable[[], Keys]) -> int:
    """Migration 0016's upgrade: every v1 (or clear) secret sealed afresh as v2 under the first key, bound to
    its row; ``keys`` is only called when there is something to look at."""
    return _convert(connection, keys, _to_v2)


def downgrade_all(connection: Connection, keys: Callable[[], Keys]) -> int:
    """Migration 0016's downgrade: every v2 secret back to v1 under the first key."""
    return _convert(connection, keys, _to_v1)
