"""Reads of the event log, which is the append-only ``job_transitions`` table joined with its jobs."""

from __future__ import annotations

from datetime import datetime
from typing import Any, cast

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from app.events.model import JobEvent
from app.job.models import Job, JobTransition

_COLUMNS = (
    JobTransition.id,
    Job.id,
    Job.request_id,
    Job.vm_name,
    Job.item_id,
    Job.vault_id,
    Job.subscription_id,
    JobTransition.to_state,
    JobTransition.from_state,
    JobTransition.attempt,
    JobTransition.at,
    Job.resync_percent,
    Job.eta_at,
    Job.error_code,
    Job.created_at,
    Job.kind,
)


def latest_id(session: Session) -> int:
    """The newest transition id (0 for an empty log)."""
    return int(session.scalar(select(func.max(JobTransition.id))) or 0)


def tail(session: Session, *, limit: int) -> list[tuple[int, datetime]]:
    """The newest ``limit`` transition ids with their times, oldest first."""
    query = select(JobTransition.id, JobTransition.at).order_by(JobTransition.id.desc()).limit(limit)
    return [(int(row[0]), row[1]) for row in reversed(session.execute(query).all())]


def read_after(session: Session, after: int, *, limit: int, upto: int | None = None) -> list[JobEvent]:
    """Events with ``after < id [<= upto]``, oldest first, at most ``limit`` (a primary-key range scan)."""
    query = select(*_COLUMNS).join(Job, Job.id == JobTransition.job_id).where(JobTransition.id > after)
    if upto is not None:
        query = query.where(JobTransition.id <= upto)
    rows = session.execute(query.order_by(JobTransition.id).limit(limit)).all()
    return [JobEvent(*cast(tuple[Any, ...], row)) for row in rows]
