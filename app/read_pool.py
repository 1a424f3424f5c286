"""The API's asynchronous Postgres pool for its hottest reads, run on the event loop.

A read through ``app.api.offload`` hops to a worker thread and back and goes through SQLAlchemy's execution
machinery: about a sixth of ``GET /jobs/{id}``'s CPU time (``benchmarks/read_path.py``). Here a fixed
statement, compiled once by SQLAlchemy for psycopg, runs on a psycopg ``AsyncConnectionPool`` whose
connections stay in autocommit and in UTC. Rows come back as named tuples (attribute access, as
SQLAlchemy's rows; one class per statement, made when it is compiled) and ``json`` columns as their text:
a join repeats the parent row's documents on every row, and the caller parses the one it keeps
(``GET /jobs/{id}``: 4 parses instead of some 30).

Only statements whose parameters psycopg adapts as SQLAlchemy would (uuids, text) belong here. Other
databases (SQLite) have no such pool: callers fall back to the threaded read.
"""

from __future__ import annotations

import logging
from collections import namedtuple
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import psycopg
from psycopg.types.string import TextLoader
from psycopg_pool import AsyncConnectionPool, PoolTimeout
from sqlalchemy import Select
from sqlalchemy.dialects.postgresql import psycopg as psycopg_dialect
from sqlalchemy.engine import make_url

log = logging.getLogger(__name__)
# A read waits this long for a pooled connection, then takes the threaded path (its own pool, which reconnects):
# a database that is down or slow never holds dashboards for psycopg_pool's default 30 s.
CHECKOUT_TIMEOUT_SECONDS = 1.0
APPLICATION_NAME = "reprotect-api-reads"  # how its connections show in pg_stat_activity
_DIALECT = psycopg_dialect.dialect()  # type: ignore[no-untyped-call]


@dataclass(frozen=True)
class Statement:
    """A read as psycopg runs it (``%(name)s`` placeholders) and the named tuple its rows become: built
    once per statement (psycopg's ``namedtuple_row`` looks the class up again on every execution: a
    fifth of a single-job read's client time)."""

    sql: str
    row: type[Any]

    def row_maker(self, _cursor: object) -> Callable[[Sequence[Any]], Any]:
        """A psycopg row factory: each row as :attr:`row`."""
        return self.row._make  # type: ignore[no-any-return]


def compiled(statement: Select[Any]) -> Statement:
    """``statement`` compiled once for psycopg, with its rows' named tuple (fields named as selected)."""
    names = [str(column.key) for column in statement.selected_columns]
    plain = statement.compile(dialect=_DIALECT)
    if plain.literal_execute_params:  # values SQL must hold inline (a restricted caller's scope prefixes)
        # Rendering them asks a value of every parameter; only the inline ones are rendered, the rest stay
        # ``%(name)s`` placeholders whatever stands in for them.
        standing_in = {bind.key: None for bind in plain.binds.values() if bind not in plain.literal_execute_params}
        inline = statement.params(**standing_in).compile(dialect=_DIALECT, compile_kwargs={"render_postcompile": True})
        return Statement(sql=str(inline), row=namedtuple("Row", names))
    return Statement(sql=str(plain), row=namedtuple("Row", names))


async def _json_as_text(connection: psycopg.AsyncConnection[Any]) -> None:
    for name in ("json", "jsonb"):
        connection.adapters.register_loader(name, TextLoader)


class AsyncReadPool:
    """Runs compiled read statements on pooled autocommit connections; ``None`` from :meth:`open` unless
    the database is Postgres."""

    def __init__(self, pool: AsyncConnectionPool[Any]):
        self._pool = pool

    @classmethod
    async def open(cls, database_url: str, *, size: int) -> AsyncReadPool | None:
        """A pool of ``size`` connections on ``database_url`` (a SQLAlchemy URL), or ``None`` on SQLite."""
        url = make_url(database_url)
        if url.get_backend_name() != "postgresql":
            return None
        conninfo = url.set(drivername="postgresql").render_as_string(hide_password=False)
        pool: AsyncConnectionPool[Any] = AsyncConnectionPool(
            conninfo,
            min_size=1,  # grows to ``size`` under load: an idle API holds one connection, not the whole pool
            max_size=size,
            kwargs={
                "autocommit": True,
                # UTC times; and quotes as SQLAlchemy renders inline literals (``compiled``): backslashes plain
                "options": "-c TimeZone=UTC -c standard_conforming_strings=on",
                "prepare_threshold": 0,
                "application_name": APPLICATION_NAME,
            },
            configure=_json_as_text,
            open=False,
            name="api-reads",
        )
        await pool.open(wait=False)
        return cls(pool)

    async def rows(self, statement: Statement, params: dict[str, Any]) -> list[Any] | None:
        """All rows of ``statement`` as its named tuples; ``None`` when the database could not answer (the
        pool drops a broken connection; the caller then reads the slow way, which reconnects or fails as the
        threaded path always did)."""
        try:
            async with self._pool.connection(timeout=CHECKOUT_TIMEOUT_SECONDS) as connection:
                cursor = connection.cursor(row_factory=statement.row_maker)
                await cursor.execute(statement.sql, params)
                found: list[Any] = await cursor.fetchall()
                return found
        except (psycopg.Error, PoolTimeout) as exc:
            # A broken connection, or anything else the database refused: the threaded read runs it again
            # and answers as it always has (reconnecting, or the problem its error maps to).
            log.warning("async read failed (%s); reading through the threaded pool", type(exc).__name__)
            return None

    async def close(self) -> None:
        """Close every connection (the app's shutdown)."""
        await self._pool.close()
