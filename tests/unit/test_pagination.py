"""Keyset pages on a real (in-memory SQLite) table: opaque unpadded cursors, exact page ends, and every
cursor that is not one the service gave out refused the same way."""

from __future__ import annotations

import base64
import json
import uuid
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import Integer, String, Uuid, create_engine, select
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column

from app.db import UtcDateTime
from app.errors import InvalidRequest
from app.pagination import decode_cursor, encode_cursor, page

T0 = datetime(2026, 1, 1, tzinfo=UTC)
REFUSED = "The cursor is not one this service gave out."


class Base(DeclarativeBase):
    pass


class Row(Base):
    __tablename__ = "rows"
    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)


class Numbered(Base):
    __tablename__ = "numbered"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
    note: Mapped[str] = mapped_column(String(10), default="")


@pytest.fixture
def session():
    engine = create_engine("sqlite://")
    Base.metadata.create_all(engine)
    with Session(engine) as s:
        yield s
    engine.dispose()


def _rows(session, n: int) -> list[uuid.UUID]:
    ids = [uuid.uuid4() for _ in range(n)]
    session.add_all(Row(id=i, created_at=T0 + timedelta(seconds=k)) for k, i in enumerate(ids))
    session.flush()
    return list(reversed(ids))  # newest first


def _page(session, limit: int, cursor: str | None = None):
    return page(session, select(Row), created=Row.created_at, key=Row.id, limit=limit, cursor=cursor)


def test_a_list_exactly_one_page_long_has_no_next_cursor(session):
    ids = _rows(session, 3)
    shown, cursor = _page(session, 3)
    assert [r.id for r in shown] == ids
    assert cursor is None


def test_one_row_more_than_the_page_gives_a_cursor_to_exactly_that_row(session):
    ids = _rows(session, 4)
    shown, cursor = _page(session, 3)
    assert [r.id for r in shown] == ids[:3]
    rest, last = _page(session, 3, cursor)
    assert ([r.id for r in rest], last) == (ids[3:], None)


def test_cursors_are_url_safe_base64_without_padding_and_round_trip():
    for extra in range(6):  # lengths that would need 0, 1 and 2 padding characters
        at = T0 + timedelta(microseconds=extra)
        cursor = encode_cursor(at, "x" * extra)
        assert "=" not in cursor
        assert not set(cursor) - set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_")
        assert decode_cursor(cursor) == (at, "x" * extra)


def _cursor(payload: object) -> str:
    return base64.urlsafe_b64encode(json.dumps(payload).encode()).decode().rstrip("=")


@pytest.mark.parametrize(
    "cursor",
    [
        "not base64 at all!",
        _cursor(["2026-01-01T00:00:00", "id"]),  # a naive timestamp
        _cursor(["2026-01-01T00:00:00+00:00", 5]),  # a row id that is not a string
        _cursor(["yesterday", "id"]),
        _cursor({"at": "2026-01-01T00:00:00+00:00"}),
        base64.urlsafe_b64encode(b"\xff\xfe").decode(),
    ],
)
def test_a_cursor_the_service_did_not_give_out_is_refused(cursor):
    with pytest.raises(InvalidRequest) as refused:
        decode_cursor(cursor)
    assert (refused.value.code, refused.value.message) == ("invalid_cursor", REFUSED)


def test_a_well_formed_cursor_whose_id_does_not_fit_the_key_is_refused(session):
    _rows(session, 2)
    with pytest.raises(InvalidRequest) as refused:
        _page(session, 1, encode_cursor(T0, "not-a-uuid"))
    assert (refused.value.code, refused.value.message) == ("invalid_cursor", REFUSED)


def test_integer_keys_page_by_number_not_by_text(session):
    # 9 < 10 as numbers but "9" > "10" as text: a cursor compared as text would skip or repeat rows.
    session.add_all(Numbered(id=n, created_at=T0) for n in range(1, 13))
    session.flush()
    seen, cursor = [], None
    while True:
        shown, cursor = page(
            session, select(Numbered), created=Numbered.created_at, key=Numbered.id, limit=5, cursor=cursor
        )
        seen += [r.id for r in shown]
        if cursor is None:
            break
    assert seen == list(range(12, 0, -1))
