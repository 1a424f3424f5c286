"""The read path's use cases, one function each: a job (or only its validator), a page of jobs.

Built for dashboards that poll: one statement per answer where possible (two when a stale ETag must be
checked first), plain columns instead of ORM objects, and the body serialised once (``present.to_json``).
"""

from __future__ import annotations

import json
import threading
import uuid
import weakref
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, Literal

from sqlalchemy import JSON, Connection, Engine, bindparam, select
from sqlalchemy.orm import Session, sessionmaker

from app.auth.principal import Principal
from app.db import build_read_engine
from app.errors import NotFound
from app.job import present, statements
from app.job.models import Job, JobTransition
from app.job.queries import JobFilter
from app.job.statements import read_column
from app.job.states import JobState, is_terminal
from app.pagination import encode_cursor
from app.read_pool import AsyncReadPool, compiled

_FULL = [read_column(Job, name) for name in present.FULL_COLUMNS]
_TRANSITION = [read_column(JobTransition, name, f"t_{name}") for name in present.TRANSITION_COLUMNS]
View = Literal["compact", "full"]
# Built once: executing the very statement object that was compiled spares SQLAlchemy from matching a new
# statement's columns to the cached compilation's on every call (most of a small query's Python cost).
_HEAD = select(Job.vault_id, Job.state, Job.version, read_column(Job, "updated_at")).where(
    Job.id == bindparam("job_id")
)
_WITH_HISTORY = (
    select(*_FULL, Job.version, *_TRANSITION)
    .outerjoin(JobTransition, JobTransition.job_id == Job.id)
    .where(Job.id == bindparam("job_id"))
    .order_by(JobTransition.id)
)
_HEAD_SQL, _WITH_HISTORY_SQL = compiled(_HEAD), compiled(_WITH_HISTORY)
_JSON_COLUMNS = tuple(name for name in present.FULL_COLUMNS if isinstance(Job.__table__.c[name].type, JSON))


_READERS: weakref.WeakKeyDictionary[Engine, Engine] = weakref.WeakKeyDictionary()
_READERS_LOCK = threading.Lock()


@contextmanager
def reading(sessions: sessionmaker[Session]) -> Iterator[Connection]:
    """A pooled connection in autocommit for reads that need no transaction: no ``BEGIN``/``ROLLBACK``
    round trips and no ORM session, only the statement. On Postgres from a pool of its own whose
    connections stay in autocommit (``app.db.build_read_engine``: ~20 us less per read than switching a
    shared connection's isolation level there and back)."""
    engine: Engine = sessions.kw["bind"]
    reader = _READERS.get(engine)
    if reader is None:
        with _READERS_LOCK:
            reader = _READERS.get(engine)
            if reader is None:
                reader = _READERS[engine] = build_read_engine(engine)
    if reader is engine:
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
            yield connection
    else:
        with reader.connect() as connection:
            yield connection


@dataclass(frozen=True)
class JobBody:
    """One job as read: its validator, how soon to poll again (None once terminal), and the JSON body
    unless the caller's copy is current."""

    etag: str
    retry_after: str | None
    body: bytes | None


def read_job(
    sessions: sessionmaker[Session],
    *,
    principal: Principal,
    job_id: uuid.UUID,
    if_none_match: str | None,
    poll_hint: str,
) -> JobBody:
    """A job the caller may see; only its validator when ``if_none_match`` names the current one."""
    with reading(sessions) as session:
        if if_none_match:
            head = session.execute(_HEAD, {"job_id": job_id}).one_or_none()
            unchanged = _unchanged(head, principal, job_id, if_none_match, poll_hint)
            if unchanged:
                return unchanged
        rows = session.execute(_WITH_HISTORY, {"job_id": job_id}).all()
    return _job_body(rows, principal, job_id, poll_hint)


async def read_job_async(
    pool: AsyncReadPool,
    *,
    principal: Principal,
    job_id: uuid.UUID,
    if_none_match: str | None,
    poll_hint: str,
) -> JobBody | None:
    """:func:`read_job` on the event loop; ``None`` when the pool could not answer (read it the slow way)."""
    if if_none_match:
        heads = await pool.rows(_HEAD_SQL, {"job_id": job_id})
        if heads is None:
            return None
        unchanged = _unchanged(heads[0] if heads else None, principal, job_id, if_none_match, poll_hint)
        if unchanged:
            return unchanged
    rows = await pool.rows(_WITH_HISTORY_SQL, {"job_id": job_id})
    if rows is None:
        return None
    if rows:  # the pool gives json columns as text, repeated on every transition's row: parse the first
        first = rows[0]
        rows[0] = first._replace(**{name: _parsed(getattr(first, name)) for name in _JSON_COLUMNS})
    return _job_body(rows, principal, job_id, poll_hint)


def _parsed(text: str | None) -> Any:
    return None if text is None else json.loads(text)


def _unchanged(
    head: Any, principal: Principal, job_id: uuid.UUID, if_none_match: str, poll_hint: str
) -> JobBody | None:
    """The bodiless answer when the caller's ETag is current (after the scope check), else ``None``."""
    head = _check_visible(head, principal, job_id)
    etag = present.etag_for(job_id, head.version, head.updated_at)
    if etag in {tag.strip() for tag in if_none_match.split(",")}:
        return JobBody(etag=etag, retry_after=_retry_after(head.state, poll_hint), body=None)
    return None


def _job_body(rows: Any, principal: Principal, job_id: uuid.UUID, poll_hint: str) -> JobBody:
    row = _check_visible(rows[0] if rows else None, principal, job_id)
    transitions = [_transition(r) for r in rows if r.t_to_state is not None]
    return JobBody(
        etag=present.etag_for(job_id, row.version, row.updated_at),
        retry_after=_retry_after(row.state, poll_hint),
        body=present.to_json(present.job_document(row, transitions)),
    )


def _check_visible(row: Any, principal: Principal, job_id: uuid.UUID) -> Any:
    if row is None or not principal.scopes.covers(row.vault_id):
        raise NotFound(f"No job {job_id}.", code="job_not_found")
    return row


def _retry_after(state: str, poll_hint: str) -> str | None:
    return None if is_terminal(JobState(state)) else poll_hint


@dataclass(frozen=True)
class _Transition:
    attempt: int
    from_state: str | None
    to_state: str
    at: Any
    reason: str
    actor: str
    request_id: str | None = None


def _transition(row: Any) -> _Transition:
    return _Transition(
        attempt=row.t_attempt,
        from_state=row.t_from_state,
        to_state=row.t_to_state,
        at=row.t_at,
        reason=row.t_reason,
        actor=row.t_actor,
        request_id=row.t_request_id,
    )


def list_page(
    sessions: sessionmaker[Session],
    *,
    principal: Principal,
    where: JobFilter,
    limit: int,
    cursor: str | None,
    view: View = "compact",
) -> bytes:
    """A page of the jobs the caller may see, newest first, as ``JobPage`` JSON: one statement for the
    compact view, a second for the histories of the full view."""
    statement, params = statements.job_page(
        where, scopes=principal.scopes, full=view == "full", limit=limit, cursor=cursor
    )
    with reading(sessions) as session:
        rows = session.execute(statement, params).all()
        shown, next_cursor = _page(rows, limit)
        if view == "compact":
            items = [present.item_document(row) for row in shown]
        else:
            histories = _histories(session, [row.id for row in shown])
            items = [present.full_document(row, histories.get(row.id, [])) for row in shown]
    return present.to_json({"items": items, "next_cursor": next_cursor})


async def list_page_async(
    pool: AsyncReadPool,
    *,
    principal: Principal,
    where: JobFilter,
    limit: int,
    cursor: str | None,
    view: View = "compact",
) -> bytes | None:
    """:func:`list_page` of the compact view on the event loop; ``None`` when the pool could not answer or the
    full view is asked for (read it the threaded way)."""
    if view != "compact":
        return None
    statement, params = statements.job_page(where, scopes=principal.scopes, full=False, limit=limit, cursor=cursor)
    rows = await pool.rows(statements.for_pool(statement), params)
    if rows is None:
        return None
    shown, next_cursor = _page(rows, limit)
    items = [
        present.item_document(
            row if row.error_details is None else row._replace(error_details=_parsed(row.error_details))
        )
        for row in shown
    ]
    return present.to_json({"items": items, "next_cursor": next_cursor})


def _page(rows: Any, limit: int) -> tuple[Any, str | None]:
    """The ``limit`` rows shown of the ``limit`` + 1 read, and the cursor after them if there is more."""
    shown = rows[:limit]
    return shown, encode_cursor(shown[-1].created_at, shown[-1].id) if len(rows) > limit else None


def _histories(session: Connection, job_ids: list[uuid.UUID]) -> dict[uuid.UUID, list[Any]]:
    if not job_ids:
        return {}
    found: dict[uuid.UUID, list[Any]] = {}
    for row in session.execute(statements.HISTORIES, {"job_ids": job_ids}):
        found.setdefault(row.job_id, []).append(row)
    return found
