"""The key-encryption keys a migration seals with: the process's configured keyring, as plain pairs.

Where keys come from (``REPROTECT_SECRETS__KEYS``, ``*_FILE``, the local key file) is configuration, so it is
read live; how a value is sealed is a stored format, frozen per version in ``_sealed_v1`` / ``_sealed_v2``.
This is the only module of ``migrations/`` that imports ``app.sealed``.
"""

from __future__ import annotations

from app.sealed import keyring

Keys = tuple[tuple[str, bytes], ...]  # (name, 32-byte key) in order: the first encrypts, every one decrypts


def configured() -> Keys:
    """The process's keys (installed by the caller, else read from the environment)."""
    return tuple(keyring.current().keys)
