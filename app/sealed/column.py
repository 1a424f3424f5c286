"""``Sealed``: a model attribute that is clear text in Python and a ``sealed:v2`` value in its column, bound
to the row (sealed on assignment, opened on each read, with the process's keyring).

The value is bound to the row's primary key, so the key must be set before the secret::

    sealed_secret: Mapped[str] = mapped_column("secret", String(SEALED_LENGTH))
    secret = Sealed[str]("sealed_secret")
"""

from __future__ import annotations

import uuid
from typing import Any, Generic, TypeVar, overload

from sqlalchemy import Column, Uuid, inspect

from app.sealed import envelope, keyring

SEALED_LENGTH = 500  # a sealed 50-character whsec_ secret is about 230 characters

T = TypeVar("T", bound=str | None)


class Sealed(Generic[T]):
    """The clear view of the mapped attribute ``stored``, which holds the sealed value."""

    def __init__(self, stored: str) -> None:
        self.stored = stored

    @overload
    def __get__(self, row: None, owner: type[Any]) -> Sealed[T]: ...

    @overload
    def __get__(self, row: object, owner: type[Any]) -> T: ...

    def __get__(self, row: object | None, owner: type[Any]) -> Sealed[T] | T:
        if row is None:
            return self
        stored: T = getattr(row, self.stored)
        if stored is None:
            return stored
        return envelope.unseal(keyring.current(), stored, place=self.place(row))  # type: ignore[return-value]

    def __set__(self, row: object, value: T) -> None:
        sealed = None if value is None else envelope.seal(keyring.current(), value, place=self.place(row))
        setattr(row, self.stored, sealed)

    def place(self, row: object) -> envelope.Place:
        """Where ``row``'s value is stored: its table, the stored attribute's column, its primary key."""
        mapper = inspect(type(row))
        values = mapper.primary_key_from_instance(row)
        key = tuple(_canonical(value, column) for value, column in zip(values, mapper.primary_key, strict=True))
        if any(part is None for part in key):
            raise ValueError(f"set {mapper.class_.__name__}'s primary key before its sealed secret: it is bound to it")
        column = mapper.get_property(self.stored).columns[0]
        return envelope.Place(table=mapper.local_table.name, column=column.name, row=key)


def _canonical(value: object, column: Column[Any]) -> object:
    """A UUID key the instance holds as text (hex, any case, with or without hyphens) as the UUID the database
    gives back, so it seals as it will open. Only for UUID columns: a text key (an idempotency key that happens
    to read as a UUID) is bound as it is."""
    if isinstance(value, str) and isinstance(column.type, Uuid):
        try:
            return uuid.UUID(value)
        except ValueError:
            return value  # not a UUID: the database refuses the row anyway
    return value
