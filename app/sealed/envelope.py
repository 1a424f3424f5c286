"""Envelope encryption of one secret: a fresh data key per value, wrapped by a key-encryption key, the value
bound to the place (table, column, row) it is stored in.

A sealed value reads ``sealed:v2:<key name>:<base64url>``: the wrap nonce, the data key wrapped under the
named key (AES-256-GCM, the key name as associated data), the value's nonce and the value under the data key
(AES-256-GCM, its :class:`Place` as associated data, so a value copied into another row does not open).
``sealed:v1:`` values (migration 0010: a constant as the value's associated data) still open; nothing writes
them any more, and migration 0016 or ``reprotect secrets rotate`` re-seals them as v2. Rotating keys re-wraps
the 32-byte data key only. Any other ``sealed:`` value is a format newer than this code (:class:`NewerFormat`),
never taken for a clear secret.
"""

from __future__ import annotations

import base64
import binascii
import json
import os
import re
from dataclasses import dataclass

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from app.sealed.keyring import KEY_BYTES, KEY_NAME, Keyring, KeyringError

SEALED = "sealed:"
V1, V2 = "sealed:v1:", "sealed:v2:"
PREFIX = V2  # what is written
_NONCE = 12
_WRAPPED = KEY_BYTES + 16  # the data key and its GCM tag
_V1_CONTEXT = b"reprotect-secret-v1"
_V2_CONTEXT = "reprotect-secret-v2"
_SHORTEST = _NONCE + _WRAPPED + _NONCE + 16  # both nonces, the wrapped key, an empty value's GCM tag
_BASE64URL = re.compile(r"^[A-Za-z0-9_-]*$")
_LATER_VERSION = re.compile(r"^sealed:v[0-9]+:")  # a format a later release may write


class DoesNotOpen(KeyringError):
    """A sealed value fails its integrity check: altered, damaged (truncated, not base64), copied from another
    row or column, or sealed under another key of the same name."""


class NewerFormat(KeyringError):
    """A value sealed in a format this release does not read (written by a newer release during a roll)."""


@dataclass(frozen=True)
class Place:
    """Where a sealed value is stored: table, column and the row's primary key values (in order)."""

    table: str
    column: str
    row: tuple[object, ...]

    def associated_data(self) -> bytes:
        """What the value is bound to: each key value as text, a UUID as its canonical text (lowercase, hyphens),
        so every database driver agrees. A UUID column's value held as a string is made a UUID first
        (:meth:`app.sealed.column.Sealed.place`); a text key is bound as it is, whatever it looks like."""
        return json.dumps([_V2_CONTEXT, self.table, self.column, *map(str, self.row)]).encode()

    def __str__(self) -> str:
        return f"{self.table}.{self.column} of row {', '.join(map(str, self.row))}"


def is_sealed(stored: str) -> bool:
    """Whether a stored value is sealed (anything else is a value from before encryption)."""
    return stored.startswith(SEALED)


def key_name_of(stored: str) -> str:
    """The name of the key a sealed value's data key is wrapped under."""
    return stored[len(V2) :].split(":", 1)[0]


def seal(keyring: Keyring, plaintext: str, *, place: Place) -> str:
    """``plaintext`` under a fresh data key wrapped by the keyring's first key, bound to ``place``."""
    name, kek = keyring.primary
    data_key = AESGCM.generate_key(bit_length=KEY_BYTES * 8)
    wrap_nonce, nonce = os.urandom(_NONCE), os.urandom(_NONCE)
    wrapped = AESGCM(kek).encrypt(wrap_nonce, data_key, name.encode())
    ciphertext = AESGCM(data_key).encrypt(nonce, plaintext.encode(), place.associated_data())
    return _render(V2, name, wrap_nonce + wrapped, nonce + ciphertext)


def unseal(keyring: Keyring, stored: str, *, place: Place) -> str:
    """The plaintext of a sealed value stored at ``place`` (a value from before encryption is returned as it
    is); :class:`DoesNotOpen` if it was sealed for another place or altered."""
    if not is_sealed(stored):
        return stored
    version, name, envelope, body = _parse(stored, place)
    data_key = _data_key(keyring, name, envelope, place)
    context = _V1_CONTEXT if version == V1 else place.associated_data()
    try:
        return AESGCM(data_key).decrypt(body[:_NONCE], body[_NONCE:], context).decode()
    except InvalidTag:
        raise DoesNotOpen(
            f"the secret stored in {place} does not open: it was altered or copied from another row"
        ) from None


def reseal(keyring: Keyring, stored: str, *, place: Place) -> str:
    """``stored`` as a v2 value under the keyring's first key: a v2 value under another key has its data key
    re-wrapped, a v1 value (or a clear one) is sealed afresh; a v2 value under the first key is unchanged."""
    if not is_sealed(stored):
        return seal(keyring, stored, place=place)
    version, name, envelope, body = _parse(stored, place)
    if version == V1:
        return seal(keyring, unseal(keyring, stored, place=place), place=place)
    primary, kek = keyring.primary
    if name == primary:
        return stored
    data_key = _data_key(keyring, name, envelope, place)
    wrap_nonce = os.urandom(_NONCE)
    return _render(V2, primary, wrap_nonce + AESGCM(kek).encrypt(wrap_nonce, data_key, primary.encode()), body)


def _data_key(keyring: Keyring, name: str, envelope: bytes, place: Place) -> bytes:
    try:
        return AESGCM(keyring.key(name)).decrypt(envelope[:_NONCE], envelope[_NONCE:], name.encode())
    except InvalidTag:
        raise DoesNotOpen(f"the secret stored in {place} does not open with key {name!r}") from None


def _render(version: str, name: str, envelope: bytes, body: bytes) -> str:
    return f"{version}{name}:{base64.urlsafe_b64encode(envelope + body).decode().rstrip('=')}"


def _parse(stored: str, place: Place) -> tuple[str, str, bytes, bytes]:
    # A damaged value (cut short, garbled) does not open, like an altered one: never a ValueError from base64
    # or AES-GCM that a caller would take for a bug, nor a key name that no process could have.
    damaged = DoesNotOpen(f"the secret stored in {place} does not open: it is damaged (truncated or not base64)")
    version = stored[: len(V2)]
    if version not in (V1, V2):
        if not _LATER_VERSION.match(stored):  # "sealed:" then anything but a version: damaged, not newer
            raise damaged
        raise NewerFormat(f"a secret is sealed as {stored.split(':', 2)[1][:8]!r}, a format this release does not read")
    name, colon, encoded = stored[len(V2) :].partition(":")
    if not colon or not KEY_NAME.match(name) or not _BASE64URL.match(encoded):
        raise damaged
    try:
        raw = base64.urlsafe_b64decode(encoded + "=" * (-len(encoded) % 4))
    except (binascii.Error, ValueError):  # a length no base64 text has
        raise damaged from None
    if len(raw) < _SHORTEST:
        raise damaged
    split = _NONCE + _WRAPPED
    return version, name, raw[:split], raw[split:]
