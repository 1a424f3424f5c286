"""Envelope encryption of one secret: a fresh data key per value, wrapped by a key-encryption key.

A sealed value reads ``sealed:v1:<key name>:<base64url>`` where the bytes are the wrap nonce, the data
key wrapped under the named key (AES-256-GCM, the key name as associated data), the value's nonce and the
value encrypted under the data key (AES-256-GCM). Rotating keys re-wraps the 32-byte data key only.
"""

from __future__ import annotations

import base64
import os

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from app.sealed.keyring import KEY_BYTES, Keyring, KeyringError

PREFIX = "sealed:v1:"
_NONCE = 12
_WRAPPED = KEY_BYTES + 16  # the data key and its GCM tag
_VALUE_CONTEXT = b"reprotect-secret-v1"


def is_sealed(stored: str) -> bool:
    """Whether a stored value is sealed (anything else is a value from before encryption)."""
    return stored.startswith(PREFIX)


def key_name_of(stored: str) -> str:
    """The name of the key a sealed value's data key is wrapped under."""
    return stored.removeprefix(PREFIX).split(":", 1)[0]


def seal(keyring: Keyring, plaintext: str) -> str:
    """``plaintext`` under a fresh data key wrapped by the keyring's first key."""
    name, kek = keyring.primary
    data_key = AESGCM.generate_key(bit_length=KEY_BYTES * 8)
    wrap_nonce, nonce = os.urandom(_NONCE), os.urandom(_NONCE)
    wrapped = AESGCM(kek).encrypt(wrap_nonce, data_key, name.encode())
    ciphertext = AESGCM(data_key).encrypt(nonce, plaintext.encode(), _VALUE_CONTEXT)
    return _render(name, wrap_nonce + wrapped, nonce + ciphertext)


def unseal(keyring: Keyring, stored: str) -> str:
    """The plaintext of a sealed value (a value from before encryption is returned as it is)."""
    if not is_sealed(stored):
        return stored
    name, envelope, body = _parse(stored)
    try:
        data_key = AESGCM(keyring.key(name)).decrypt(envelope[:_NONCE], envelope[_NONCE:], name.encode())
        return AESGCM(data_key).decrypt(body[:_NONCE], body[_NONCE:], _VALUE_CONTEXT).decode()
    except InvalidTag:
        raise KeyringError(f"a secret sealed under key {name!r} does not open with that key") from None


def reseal(keyring: Keyring, stored: str) -> str:
    """``stored`` with its data key wrapped by the keyring's first key (a clear value is sealed)."""
    if not is_sealed(stored):
        return seal(keyring, stored)
    name, envelope, body = _parse(stored)
    primary, kek = keyring.primary
    if name == primary:
        return stored
    try:
        data_key = AESGCM(keyring.key(name)).decrypt(envelope[:_NONCE], envelope[_NONCE:], name.encode())
    except InvalidTag:
        raise KeyringError(f"a secret sealed under key {name!r} does not open with that key") from None
    wrap_nonce = os.urandom(_NONCE)
    return _render(primary, wrap_nonce + AESGCM(kek).encrypt(wrap_nonce, data_key, primary.encode()), body)


def _render(name: str, envelope: bytes, body: bytes) -> str:
    return f"{PREFIX}{name}:{base64.urlsafe_b64encode(envelope + body).decode().rstrip('=')}"


def _parse(stored: str) -> tuple[str, bytes, bytes]:
    name, _, encoded = stored.removeprefix(PREFIX).partition(":")
    raw = base64.urlsafe_b64decode(encoded + "=" * (-len(encoded) % 4))
    split = _NONCE + _WRAPPED
    return name, raw[:split], raw[split:]
