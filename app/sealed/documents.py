"""Secrets inside stored JSON documents (an idempotent answer that shows a new callback secret): every string
under a key ending in ``secret``, at any depth, sealed on the way in and opened on the way out, each bound to
the document's place (table, column, row)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from app.sealed import envelope, keyring
from app.sealed.envelope import Place


def seal_secrets(document: Any, *, place: Place) -> Any:
    """A copy of ``document`` with its secrets sealed under the process's keyring, bound to ``place``."""
    ring = keyring.current()
    return change_secrets(document, lambda value: envelope.seal(ring, value, place=place))


def open_secrets(document: Any, *, place: Place) -> Any:
    """A copy of ``document`` with its sealed secrets opened (values stored before sealing pass as they are)."""
    ring = keyring.current()
    return change_secrets(document, lambda value: envelope.unseal(ring, value, place=place))


def change_secrets(document: Any, change: Callable[[str], str]) -> Any:
    """A copy of ``document`` with ``change`` applied to each of its secrets."""
    if isinstance(document, dict):
        return {
            key: change(value)
            if isinstance(key, str) and key.lower().endswith("secret") and isinstance(value, str)
            else change_secrets(value, change)
            for key, value in document.items()
        }
    if isinstance(document, list):
        return [change_secrets(item, change) for item in document]
    return document
