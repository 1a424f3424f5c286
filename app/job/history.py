"""The one place a job changes state: checks the transition, appends it to the history and writes its events."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.orm import Session

from app.job.models import Job, JobTransition
from app.job.states import JobState, check_transition, is_terminal
from app.webhooks import outbox


def transition(
    session: Session,
    job: Job,
    target: JobState,
    *,
    reason: str,
    now: datetime,
    actor: str = "service",
) -> None:
    """Move ``job`` to ``target`` (if legal) and record why, when and by whom."""
    current = job.job_state
    check_transition(current, target)
    job.state = target.value
    job.updated_at = now
    if is_terminal(target):
        job.finished_at = now
        job.next_due_at = None
        job.lease_owner = None
        job.lease_until = None
    session.add(
        JobTransition(
            job=job,
            attempt=job.attempt,
            from_state=current.value,
            to_state=target.value,
            at=now,
            reason=reason,
            actor=actor,
        )
    )
    outbox.on_transition(session, job, previous=current, now=now)


def record_creation(session: Session, job: Job, *, now: datetime, actor: str) -> None:
    """The first history entry of a job: it was accepted."""
    session.add(
        JobTransition(
            job=job,
            attempt=job.attempt,
            from_state=None,
            to_state=JobState.ACCEPTED.value,
            at=now,
            reason="reprotect requested",
            actor=actor,
        )
    )
