"""Key-encryption keys: parsed from ``REPROTECT_SECRETS__KEYS`` (or a local key file outside production).

The process's keyring is installed by ``bootstrap`` from its settings; code that runs without a container
(migrations, the CLI) builds it from the environment on first use.
"""

from __future__ import annotations

import base64
import binascii
import os
import re
import secrets
import time
from dataclasses import dataclass
from pathlib import Path

from app.settings import SecretsSettings, get_settings

KEY_BYTES = 32  # AES-256
KEY_NAME = re.compile(r"^[A-Za-z0-9_.-]{1,32}$")


class KeyringError(ValueError):
    """The configured keys cannot be used (the message names the problem, never a key)."""


class UnknownKey(KeyringError):
    """A value is sealed under a key this process is not configured with (a rolling deploy that skipped the
    decrypt-only phase, or a key dropped before ``reprotect secrets rotate``): another process may open it."""


@dataclass(frozen=True)
class Keyring:
    """Named 256-bit keys in order: the first encrypts, every one decrypts (a key after the first is
    decrypt-only: how a new key is rolled out before any process seals with it)."""

    keys: tuple[tuple[str, bytes], ...]

    @property
    def primary(self) -> tuple[str, bytes]:
        """The key new secrets are sealed under."""
        return self.keys[0]

    def key(self, name: str) -> bytes:
        """The key called ``name``; a secret sealed under a key no longer configured cannot be opened."""
        for known, key in self.keys:
            if known == name:
                return key
        raise UnknownKey(f"no key named {name!r} in REPROTECT_SECRETS__KEYS (was it removed before a rotation?)")


def parse_keys(text: str) -> Keyring:
    """``name:base64`` pairs separated by commas or blanks (each key 32 bytes, names unique)."""
    keys: list[tuple[str, bytes]] = []
    for pair in re.split(r"[\s,]+", text.strip()):
        name, colon, encoded = pair.partition(":")
        if not colon or not KEY_NAME.match(name):
            raise KeyringError("each key must read name:base64 (name: letters, digits, '_.-', at most 32)")
        try:
            key = base64.b64decode(encoded, validate=True)
        except binascii.Error:
            raise KeyringError(f"key {name!r} is not valid base64") from None
        if len(key) != KEY_BYTES:
            raise KeyringError(f"key {name!r} must be {KEY_BYTES} bytes (base64 of 32 random bytes), not {len(key)}")
        if any(name == known for known, _ in keys):
            raise KeyringError(f"key name {name!r} appears twice")
        keys.append((name, key))
    if not keys or not text.strip():
        raise KeyringError("no key given")
    return Keyring(tuple(keys))


def new_key_text(name: str) -> str:
    """A fresh ``name:base64`` key, as ``REPROTECT_SECRETS__KEYS`` takes it."""
    return f"{name}:{base64.b64encode(secrets.token_bytes(KEY_BYTES)).decode()}"


def local_keyring(path: Path) -> Keyring:
    """The development key in ``path``, generated on first use (mode 0600; concurrent first uses agree)."""
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        try:
            descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            pass  # another process wrote it first
        else:
            with os.fdopen(descriptor, "w") as file:
                file.write(new_key_text("local") + "\n")
    for _ in range(100):
        text = path.read_text().strip()
        if text:
            return parse_keys(text)
        time.sleep(0.01)  # being written by another process this very moment
    raise KeyringError(f"the local key file {path} is empty")


def keyring_for(settings: SecretsSettings) -> Keyring:
    """The configured keys, else the local key file."""
    if settings.keys is not None:
        return parse_keys(settings.keys.get_secret_value())
    return local_keyring(Path(settings.local_key_path))


_installed: Keyring | None = None


def install(settings: SecretsSettings) -> Keyring:
    """Make ``settings``' keys the process's keyring."""
    global _installed
    _installed = keyring_for(settings)
    return _installed


def install_keyring(keyring: Keyring) -> None:
    """Make ``keyring`` the process's keyring (tests, rotation)."""
    global _installed
    _installed = keyring


def current() -> Keyring:
    """The process's keyring: the installed one, else the environment's."""
    return _installed or install(get_settings().secrets)
