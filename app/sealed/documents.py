"""Secrets inside stored JSON documents (an idempotent answer that shows a new callback secret): every string
under a key ending in ``secret``, at any depth, sealed on the way in and opened on the way out."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from app.sealed import envelope, keyring


def seal_secrets(document: Any) -> Any:
    """A copy of ``document`` with its secrets sealed under the process's keyring."""
    ring = keyring.current()
    return _walk(document, lambda value: envelope.seal(ring, value))


def open_secrets(document: Any) -> Any:
    """A copy of ``document`` with its sealed secrets opened (values stored before sealing pass as they are)."""
    ring = keyring.current()
    return _walk(document, lambda value: envelope.unseal(ring, value))


def _walk(document: Any, change: Callable[[str], str]) -> Any:
    if isinstance(document, dict):
        return {
            key: change(value)
            if isinstance(key, str) and key.lower().endswith("secret") and isinstance(value, str)
            else _walk(value, change)
            for key, value in document.items()
        }
    if isinstance(document, list):
        return [_walk(item, change) for item in document]
    return document
