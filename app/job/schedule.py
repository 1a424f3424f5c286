"""The sweeper's query: which jobs are due (or were abandoned by a dead worker) and need a doorbell."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta

from sqlalchemy import or_, select, update
from sqlalchemy.orm import Session

from app.job.models import Job
from app.job.states import ACTIVE_STATES

_ACTIVE = [s.value for s in ACTIVE_STATES]


def take_due(session: Session, *, now: datetime, redispatch_after: float, limit: int = 500) -> list[uuid.UUID]:
    """Ids of active jobs that are due, not leased, and not rung for recently; marks them as rung."""
    ids = list(
        session.scalars(
            select(Job.id)
            .where(
                Job.state.in_(_ACTIVE),
                or_(Job.next_due_at.is_(None), Job.next_due_at <= now),
                or_(Job.lease_until.is_(None), Job.lease_until < now),
                or_(Job.dispatched_at.is_(None), Job.dispatched_at < now - timedelta(seconds=redispatch_after)),
            )
            .order_by(Job.next_due_at.is_(None), Job.next_due_at)
            .limit(limit)
        )
    )
    if ids:
        mark_dispatched(session, ids, now=now)
    return ids


def mark_dispatched(session: Session, ids: list[uuid.UUID], *, now: datetime) -> None:
    """Record that a doorbell was sent, so the sweeper does not ring again until it may have been lost."""
    session.execute(
        update(Job).where(Job.id.in_(ids)).values(dispatched_at=now).execution_options(synchronize_session=False)
    )


def forget_dispatch(session: Session, job_id: uuid.UUID) -> None:
    """A doorbell was answered without work: let the sweeper ring again when the job is due."""
    session.execute(
        update(Job).where(Job.id == job_id).values(dispatched_at=None).execution_options(synchronize_session=False)
    )
