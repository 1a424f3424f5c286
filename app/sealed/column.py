"""``SealedString``: a string column whose values are sealed on write and opened on read."""

from __future__ import annotations

from sqlalchemy import String, TypeDecorator
from sqlalchemy.engine import Dialect

from app.sealed import envelope, keyring

SEALED_LENGTH = 500  # a sealed 50-character whsec_ secret is about 230 characters


class SealedString(TypeDecorator[str]):
    """Clear text in Python, ``sealed:v1:…`` in the database (with the process's keyring)."""

    impl = String(SEALED_LENGTH)
    cache_ok = True

    def process_bind_param(self, value: str | None, dialect: Dialect) -> str | None:
        if value is None:
            return None
        return envelope.seal(keyring.current(), value)

    def process_result_value(self, value: str | None, dialect: Dialect) -> str | None:
        if value is None:
            return None
        return envelope.unseal(keyring.current(), value)
