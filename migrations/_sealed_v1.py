"""Frozen copy of the ``sealed:v1`` format and of the re-sealing migration 0010 runs, as they were then.

A migration must do tomorrow what it did the day it was written: were 0010 to import the live ``app.sealed``,
a later change there (a new format, another column list) would silently change what upgrading an old
database does. Never edit this file; a new format gets its own frozen module (``_sealed_v2``) and migration.

A value reads ``sealed:v1:<key name>:<base64url>``: the wrap nonce, the data key wrapped under the named key
(AES-256-GCM, the key name as associated data), the value's nonce and the value under the data key
(AES-256-GCM, a constant as associated data).
"""

from __future__ import annotations

import base64
import os
from collections.abc import Callable

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from sqlalchemy import Connection, String, column, select, table, update

Keys = tuple[tuple[str, bytes], ...]  # (name, 32-byte key) in order: the first encrypts, every one decrypts

PREFIX = "sealed:v1:"
_KEY_BYTES = 32
_NONCE = 12
_WRAPPED = _KEY_BYTES + 16
_VALUE_CONTEXT = b"reprotect-secret-v1"

# (table, primary key, secret columns) as they were at 0010.
COLUMNS: tuple[tuple[str, str, tuple[str, ...]], ...] = (
    ("webhook_endpoints", "id", ("secret", "previous_secret")),
    ("reprotect_requests", "id", ("callback_secret",)),
)


def is_sealed(stored: str) -> bool:
    return stored.startswith(PREFIX)


def _key(keys: Keys, name: str) -> bytes:
    for known, key in keys:
        if known == name:
            return key
    raise ValueError(f"no key named {name!r} in REPROTECT_SECRETS__KEYS (was it removed before a rotation?)")


def seal(keys: Keys, plaintext: str) -> str:
    """``plaintext`` under a fresh data key wrapped by the first key."""
    name, kek = keys[0]
    data_key = AESGCM.generate_key(bit_length=_KEY_BYTES * 8)
    wrap_nonce, nonce = os.urandom(_NONCE), os.urandom(_NONCE)
    wrapped = AESGCM(kek).encrypt(wrap_nonce, data_key, name.encode())
    ciphertext = AESGCM(data_key).encrypt(nonce, plaintext.encode(), _VALUE_CONTEXT)
    return _render(name, wrap_nonce + wrapped, nonce + ciphertext)


def unseal(keys: Keys, stored: str) -> str:
    """The plaintext of a v1 value (anything else is returned as it is)."""
    if not is_sealed(stored):
        return stored
    name, envelope, body = _parse(stored)
    try:
        data_key = AESGCM(_key(keys, name)).decrypt(envelope[:_NONCE], envelope[_NONCE:], name.encode())
        return AESGCM(data_key).decrypt(body[:_NONCE], body[_NONCE:], _VALUE_CONTEXT).decode()
    except InvalidTag:
        raise ValueError(f"a secret sealed under key {name!r} does not open with that key") from None


def reseal(keys: Keys, stored: str) -> str:
    """``stored`` with its data key wrapped by the first key (a clear value is sealed)."""
    if not is_sealed(stored):
        return seal(keys, stored)
    name, envelope, body = _parse(stored)
    primary, kek = keys[0]
    if name == primary:
        return stored
    try:
        data_key = AESGCM(_key(keys, name)).decrypt(envelope[:_NONCE], envelope[_NONCE:], name.encode())
    except InvalidTag:
        raise ValueError(f"a secret sealed under key {name!r} does not open with that key") from None
    wrap_nonce = os.urandom(_NONCE)
    return _render(primary, wrap_nonce + AESGCM(kek).encrypt(wrap_nonce, data_key, primary.encode()), body)


def _render(name: str, envelope: bytes, body: bytes) -> str:
    return f"{PREFIX}{name}:{base64.urlsafe_b64encode(envelope + body).decode().rstrip('=')}"


def _parse(stored: str) -> tuple[str, bytes, bytes]:
    name, _, encoded = stored.removeprefix(PREFIX).partition(":")
    raw = base64.urlsafe_b64decode(encoded + "=" * (-len(encoded) % 4))
    split = _NONCE + _WRAPPED
    return name, raw[:split], raw[split:]


def reseal_all(connection: Connection, keys: Callable[[], Keys]) -> int:
    """Migration 0010's upgrade: every secret sealed (v1) under the first key; ``keys`` is only called when
    there is something to change (an empty database needs no key)."""
    changed = 0
    ring: Keys | None = None
    for table_name, key_name, names in COLUMNS:
        for name in names:
            values = table(table_name, column(key_name), column(name, String))
            rows = connection.execute(select(values.c[key_name], values.c[name]).where(values.c[name].is_not(None)))
            for row_id, stored in rows.all():
                ring = ring or keys()
                fresh = reseal(ring, stored)
                if fresh == stored:
                    continue
                statement = (
                    update(values).where(values.c[key_name] == row_id, values.c[name] == stored).values({name: fresh})
                )
                changed += connection.execute(statement).rowcount
    return changed


def unseal_all(connection: Connection, keys: Callable[[], Keys]) -> int:
    """Migration 0010's downgrade: every v1 value back in clear."""
    changed = 0
    for table_name, key_name, names in COLUMNS:
        for name in names:
            values = table(table_name, column(key_name), column(name, String))
            rows = connection.execute(select(values.c[key_name], values.c[name]).where(values.c[name].is_not(None)))
            for row_id, stored in rows.all():
                if is_sealed(stored):
                    clear = unseal(keys(), stored)
                    statement = update(values).where(values.c[key_name] == row_id).values({name: clear})
                    changed += connection.execute(statement).rowcount
    return changed
