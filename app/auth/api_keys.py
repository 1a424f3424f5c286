"""API keys for automation: generation, parsing, hashing and constant-time matching. Pure: storing
keys (id, name, hash, role, scopes) is the caller's job; only the hash is ever stored.

A key reads ``rpk_<key id>_<secret>``: ``rpk_`` lets secret scanners spot leaked keys, the 8-hex
key id finds the stored row, the secret is ``secrets.token_urlsafe(32)`` (256 random bits).
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass, field

from app.auth.principal import Principal, PrincipalKind, Role
from app.scopes import ScopeSet

PREFIX = "rpk_"
PRINCIPAL_PREFIX = "key:"  # a key's principal id, as audit entries and created_by name it
# For secret scanners (GitHub custom patterns, gitleaks, trufflehog): finds keys inside any text.
API_KEY_REGEX = r"(?<![A-Za-z0-9_-])rpk_[0-9a-f]{8}_[A-Za-z0-9_-]{43}(?![A-Za-z0-9_-])"
API_KEY_PATTERN = re.compile(API_KEY_REGEX)
_EXACT = re.compile(r"rpk_(?P<key_id>[0-9a-f]{8})_(?P<secret>[A-Za-z0-9_-]{43})")


@dataclass(frozen=True)
class NewKey:
    """A freshly generated key: show ``plaintext`` to its owner once, store ``key_id`` and ``hash``."""

    key_id: str
    plaintext: str = field(repr=False)
    hash: str


def generate() -> NewKey:
    """A new random key. Key ids are 32 random bits: the store must keep them unique (retry on clash)."""
    key_id = secrets.token_hex(4)
    plaintext = f"{PREFIX}{key_id}_{secrets.token_urlsafe(32)}"
    return NewKey(key_id=key_id, plaintext=plaintext, hash=hash_secret(plaintext))


def parse(plaintext: str) -> tuple[str, str] | None:
    """``(key_id, secret)`` of a well-formed key, None for anything else."""
    match = _EXACT.fullmatch(plaintext)
    return (match["key_id"], match["secret"]) if match else None


def hash_secret(plaintext: str) -> str:
    """SHA-256 (hex) of the whole key, as stored.

    A fast, unsalted hash is adequate here, unlike for passwords: the secret is 256 uniformly random
    bits, so neither guessing nor precomputed tables can reverse it, and a slow hash would only add
    latency to every request. Hashing the whole key also binds the secret to its key id.
    """
    return hashlib.sha256(plaintext.encode()).hexdigest()


def matches(plaintext: str, stored_hash: str) -> bool:
    """Whether ``plaintext`` is a well-formed key whose hash is ``stored_hash`` (constant-time compare)."""
    if parse(plaintext) is None:
        return False
    return hmac.compare_digest(hash_secret(plaintext).encode(), stored_hash.lower().encode())


def principal(*, key_id: str, name: str, role: Role | None, scopes: ScopeSet) -> Principal:
    """The principal of a stored, matched key."""
    return Principal(id=f"{PRINCIPAL_PREFIX}{key_id}", kind=PrincipalKind.API_KEY, name=name, role=role, scopes=scopes)
