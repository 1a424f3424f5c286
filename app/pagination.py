"""Keyset pagination shared by every list: newest first on ``(created_at, id)``, opaque cursors."""

from __future__ import annotations

import base64
import binascii
import json
import uuid
from collections.abc import Callable
from datetime import datetime
from typing import Any, TypeVar

from sqlalchemy import Select, and_, or_
from sqlalchemy.orm import InstrumentedAttribute, Session

from app.errors import InvalidRequest

Row = TypeVar("Row")
# Integer keys are 32-bit on Postgres (SERIAL): a crafted cursor beyond them is refused before the query.
_INT_MIN, _INT_MAX = -(2**31), 2**31 - 1


def encode_cursor(created_at: datetime, row_id: object) -> str:
    """An opaque cursor after the row ``(created_at, row_id)`` in newest-first order."""
    raw = json.dumps([created_at.isoformat(), str(row_id)]).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str) -> tuple[datetime, str]:
    """Parse a cursor made by :func:`encode_cursor`."""
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        created, row_id = json.loads(raw)
        at = datetime.fromisoformat(created)
        if at.tzinfo is None:
            raise ValueError("naive timestamp")
        if not isinstance(row_id, str):
            raise TypeError("row id")
        return at, row_id
    except (ValueError, TypeError, binascii.Error, json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise InvalidRequest("The cursor is not one this service gave out.", code="invalid_cursor") from exc


def page(
    session: Session,
    query: Select[Row],
    *,
    created: InstrumentedAttribute[Any],
    key: InstrumentedAttribute[Any],
    limit: int,
    cursor: str | None,
) -> tuple[list[Row], str | None]:
    """One page of ``query`` newest first, and the cursor of the next page (None on the last)."""
    ordered = _after(query, created=created, key=key, cursor=cursor).order_by(created.desc(), key.desc())
    rows = list(session.scalars(ordered.limit(limit + 1)))
    return _cut(rows, created=created, key=key, limit=limit)


def visible_page(
    session: Session,
    query: Select[Row],
    *,
    created: InstrumentedAttribute[Any],
    key: InstrumentedAttribute[Any],
    limit: int,
    cursor: str | None,
    visible: Callable[[Row], bool],
    batch: int = 200,
) -> tuple[list[Row], str | None]:
    """:func:`page` for lists whose visibility is decided in Python (scopes held as JSON): walks the
    rows in batches until ``limit`` + 1 visible ones are found, so the next cursor is a visible row's
    and never tells where rows the caller cannot see lie (how many, their ids or times)."""
    found: list[Row] = []
    after = cursor
    while len(found) <= limit:
        rows, more = page(session, query, created=created, key=key, limit=batch, cursor=after)
        found.extend(row for row in rows if visible(row))
        if more is None:
            break
        after = more
    return _cut(found, created=created, key=key, limit=limit)


def _after(
    query: Select[Any], *, created: InstrumentedAttribute[Any], key: InstrumentedAttribute[Any], cursor: str | None
) -> Select[Any]:
    if not cursor:
        return query
    at, raw_id = decode_cursor(cursor)
    convert = key.type.python_type
    try:
        row_id: Any = convert(raw_id) if convert in (uuid.UUID, int) else raw_id
    except ValueError as exc:
        raise InvalidRequest("The cursor is not one this service gave out.", code="invalid_cursor") from exc
    if convert is int and not _INT_MIN <= row_id <= _INT_MAX:  # the database would refuse it with a 500
        raise InvalidRequest("The cursor is not one this service gave out.", code="invalid_cursor")
    return query.where(or_(created < at, and_(created == at, key < row_id)))


def _cut(
    rows: list[Any], *, created: InstrumentedAttribute[Any], key: InstrumentedAttribute[Any], limit: int
) -> tuple[list[Any], str | None]:
    shown = rows[:limit]
    if len(rows) <= limit:
        return shown, None
    last = shown[-1]
    return shown, encode_cursor(getattr(last, created.key), getattr(last, key.key))
