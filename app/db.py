"""Database plumbing: declarative base, engine and session factory (built by ``bootstrap``, never at import)."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import DateTime, Engine, MetaData, QueuePool, TypeDecorator, create_engine, event, exc
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase, Session, sessionmaker

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    """Declarative base for every table of the service."""

    metadata = MetaData(naming_convention=NAMING_CONVENTION)


class UtcDateTime(TypeDecorator[datetime]):
    """Timezone-aware UTC datetimes on every backend (SQLite stores them naive)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        return value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class UtcReadDateTime(UtcDateTime):
    """``UtcDateTime`` as the read path selects it: the connections of :func:`build_read_engine` run in
    UTC, so on Postgres psycopg's values already are UTC-aware and are taken as they come (a list page
    converted some 300 of them)."""

    cache_ok = True

    def result_processor(self, dialect: Dialect, coltype: object) -> Any:
        if dialect.name == "postgresql":
            return None
        return super().result_processor(dialect, coltype)


def utcnow() -> datetime:
    """The current time, timezone-aware UTC."""
    return datetime.now(UTC)


def new_id() -> uuid.UUID:
    """A fresh random id for a row."""
    return uuid.uuid4()


def _tune_sqlite(dbapi_connection: Any, _record: Any) -> None:
    # Several processes (API, worker, beat) share the file in the embedded default: WAL lets readers
    # proceed during a write and busy_timeout makes writers queue instead of failing at once.
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


def build_engine(url: str, *, pool_size: int = 10, echo: bool = False) -> Engine:
    """An engine for ``url``; for SQLite files, creates the folder and tunes the connection."""
    if url.startswith("sqlite"):
        path = url.split("///", 1)[-1]
        if path and path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(
            url, echo=echo, hide_parameters=True, connect_args={"timeout": 30, "check_same_thread": False}
        )
        event.listen(engine, "connect", _tune_sqlite)
        return engine
    # hide_parameters: statement parameters (secrets being written, among them) never reach errors or logs.
    engine = create_engine(url, echo=echo, hide_parameters=True, pool_size=pool_size, max_overflow=pool_size)
    _ping_when_idle(engine)
    return engine


PING_AFTER_IDLE_SECONDS = 1.0


def build_read_engine(engine: Engine) -> Engine:
    """A second pool on ``engine``'s Postgres database for statements needing no transaction: its
    connections stay in autocommit (no isolation level set and reset around every checkout, no rollback
    on return), disposed with ``engine``. Other databases: ``engine`` itself."""
    if engine.dialect.name != "postgresql":
        return engine
    size = engine.pool.size() if isinstance(engine.pool, QueuePool) else 5
    reader = create_engine(
        engine.url,
        hide_parameters=True,
        isolation_level="AUTOCOMMIT",
        pool_reset_on_return=None,
        connect_args={"options": "-c TimeZone=UTC"},  # UtcReadDateTime relies on it
        pool_size=size,
        max_overflow=size,
    )
    _ping_when_idle(reader)
    event.listen(engine, "engine_disposed", lambda _engine: reader.dispose())
    return reader


def _ping_when_idle(engine: Engine) -> None:
    """Check a pooled connection before use only if it sat idle for a while (``pool_pre_ping`` would check
    every checkout: one more round trip per request, a quarter of a cached read's time). A connection
    reused within the second was just working; one that idled may have been cut (database restart,
    network), and a dead one is replaced before the caller sees it."""

    def checked_in(_dbapi_connection: Any, record: Any) -> None:
        record.info["idle_since"] = time.monotonic()

    def checked_out(dbapi_connection: Any, record: Any, _proxy: Any) -> None:
        idle_since = record.info.get("idle_since")
        if idle_since is None or time.monotonic() - idle_since < PING_AFTER_IDLE_SECONDS:
            return
        if not engine.dialect._do_ping_w_event(dbapi_connection):  # False: disconnected
            raise exc.DisconnectionError("pooled connection found closed; taking a fresh one")

    event.listen(engine, "checkin", checked_in)
    event.listen(engine, "checkout", checked_out)


def build_session_factory(engine: Engine) -> sessionmaker[Session]:
    """Sessions that keep loaded attributes after commit (routes render them afterwards)."""
    return sessionmaker(bind=engine, expire_on_commit=False)


@contextmanager
def transaction(factory: sessionmaker[Session]) -> Iterator[Session]:
    """A session whose work commits on success and rolls back on any error: the edges' unit of work."""
    with factory() as session, session.begin():
        yield session
