"""Prebuilt statements of the job lists: one per *shape* (which filters are set, the view, a cursor or
not, the caller's scopes), with every value a bound parameter, built once and reused.

Executing the very statement object SQLAlchemy compiled and cached spares it from matching a freshly
built statement's columns to the cached compilation on every call: most of a small query's Python cost.
The values never enter the cache key; the scopes do (a restricted caller's prefixes are SQL literals).
"""

from __future__ import annotations

import threading
import uuid
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Select, and_, bindparam, func, or_, select, type_coerce

from app.auth.visibility import vault_visible
from app.db import UtcDateTime, UtcReadDateTime
from app.errors import InvalidRequest
from app.job import present
from app.job.models import Job, JobTransition
from app.job.queries import JobFilter
from app.pagination import decode_cursor
from app.read_pool import Statement, compiled
from app.scopes import ScopeSet

_MAX_SHAPES = 512
_SHAPES: dict[tuple[Any, ...], Select[Any]] = {}
# The same statements as the async pool runs them (``app.read_pool``), keyed by the statement object itself (a
# strong reference: never an id a freed statement's successor could reuse, with another caller's scopes inline).
_COMPILED: dict[Select[Any], Statement] = {}
_SHAPES_LOCK = threading.Lock()  # read threads and the event loop build shapes concurrently
_FILTERS = (
    "state",
    "kind",
    "vault_id",
    "subscription_id",
    "vm",
    "request_id",
    "error_code",
    "created_after",
    "created_before",
)


def read_column(model: Any, name: str, label: str | None = None) -> Any:
    """``model.name`` as the read path selects it: UTC timestamps taken as the read engine gives them."""
    column = getattr(model, name)
    if isinstance(column.type, UtcDateTime):
        return type_coerce(column, UtcReadDateTime()).label(label or name)
    return column.label(label) if label else column


HISTORIES = (
    select(JobTransition.job_id, *(read_column(JobTransition, name) for name in present.TRANSITION_COLUMNS))
    .where(JobTransition.job_id.in_(bindparam("job_ids", expanding=True)))
    .order_by(JobTransition.id)
)


def job_page(
    where: JobFilter, *, scopes: ScopeSet, full: bool, limit: int, cursor: str | None
) -> tuple[Select[Any], dict[str, Any]]:
    """The statement for one page (``limit`` + 1 rows, newest first) and its parameters."""
    present_filters = tuple(name for name in _FILTERS if getattr(where, name) not in (None, ""))
    scope_key = "*" if scopes.is_unrestricted else tuple(sorted(scopes.prefixes()))
    shape = (present_filters, full, cursor is not None, scope_key)
    statement = _SHAPES.get(shape)
    if statement is None:
        with _SHAPES_LOCK:
            statement = _SHAPES.get(shape)
            if statement is None:
                if len(_SHAPES) >= _MAX_SHAPES:
                    _SHAPES.clear()
                    _COMPILED.clear()
                statement = _SHAPES[shape] = _build(present_filters, scopes=scopes, full=full, after=cursor is not None)
    params: dict[str, Any] = {"limit": limit + 1}
    for name in present_filters:
        value = getattr(where, name)
        params[name] = value.lower() if name in ("vault_id", "subscription_id", "vm") else value
    if where.state is not None:
        params["state"] = where.state.value
    if where.kind is not None:
        params["kind"] = where.kind.value
    if cursor is not None:
        params["after_at"], params["after_id"] = _after(cursor)
    for name in ("created_after", "created_before", "after_at"):
        if name in params:  # in UTC, as ``UtcDateTime`` binds them on the threaded path: the same 422 on both
            params[name] = _in_utc(params[name])
    return statement, params


def _in_utc(at: datetime) -> datetime:
    try:
        return at.astimezone(UTC)
    except OverflowError as exc:
        raise InvalidRequest("A value is out of the range stored.", code="value_out_of_range") from exc


def for_pool(statement: Select[Any]) -> Statement:
    """A statement from :func:`job_page` as the async pool runs it, compiled once per shape."""
    found = _COMPILED.get(statement)
    if found is None:
        with _SHAPES_LOCK:
            found = _COMPILED[statement] = compiled(statement)
    return found


def _after(cursor: str) -> tuple[Any, uuid.UUID]:
    at, raw_id = decode_cursor(cursor)
    try:
        return at, uuid.UUID(raw_id)
    except ValueError as exc:
        raise InvalidRequest("The cursor is not one this service gave out.", code="invalid_cursor") from exc


def _build(filters: tuple[str, ...], *, scopes: ScopeSet, full: bool, after: bool) -> Select[Any]:
    columns = present.FULL_COLUMNS if full else present.ITEM_COLUMNS
    query = select(*(read_column(Job, name) for name in columns)).where(vault_visible(Job.vault_id, scopes))
    conditions = {
        "state": lambda: Job.state == bindparam("state"),
        "kind": lambda: Job.kind == bindparam("kind"),
        "vault_id": lambda: func.lower(Job.vault_id) == bindparam("vault_id"),
        "subscription_id": lambda: func.lower(Job.subscription_id) == bindparam("subscription_id"),
        "vm": lambda: or_(func.lower(Job.vm_name) == bindparam("vm"), func.lower(Job.item_id) == bindparam("vm")),
        "request_id": lambda: Job.request_id == bindparam("request_id"),
        "error_code": lambda: Job.error_code == bindparam("error_code"),
        "created_after": lambda: Job.created_at >= bindparam("created_after"),
        "created_before": lambda: Job.created_at < bindparam("created_before"),
    }
    for name in filters:
        query = query.where(conditions[name]())
    if after:
        at, row_id = Job.created_at, Job.id
        query = query.where(
            or_(at < bindparam("after_at"), and_(at == bindparam("after_at"), row_id < bindparam("after_id")))
        )
    return query.order_by(Job.created_at.desc(), Job.id.desc()).limit(bindparam("limit"))
