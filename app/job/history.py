"""The one place a job changes state: checks the transition, appends it to the history, settles the request.

Other domains hear of every transition through listeners installed on the session factory at the
composition root (the webhook outbox is one); they run inside the same transaction, so what they write
commits or rolls back with the transition itself.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from app.job.models import Job, JobTransition, ReprotectRequest
from app.job.states import JobState, check_transition, is_terminal
from app.logs.context import current_request_id

_LISTENERS = "job_transition_listeners"


@dataclass(frozen=True)
class Transitioned:
    """A job's move, as listeners hear of it (inside the transaction that records it)."""

    job: Job
    previous: JobState
    at: datetime
    # Set when this move ended the last active job of its request: every job of the request, by VM name.
    completed_request_jobs: list[Job] | None = None


Listener = Callable[[Session, Transitioned], None]


def listen(sessions: sessionmaker[Session], listener: Listener) -> None:
    """Call ``listener`` for every transition recorded in a session made by ``sessions``."""
    info = dict(sessions.kw.get("info") or {})
    info[_LISTENERS] = [*info.get(_LISTENERS, []), listener]
    sessions.configure(info=info)


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
            request_id=_stamp_request(job),
        )
    )
    if _LISTENERS not in session.info:  # events would silently go missing: refuse instead
        raise RuntimeError("job transitions need sessions wired by app.bootstrap.wired_sessions (webhook events)")
    completed = _settle_request(session, job, previous=current, now=now)
    told = Transitioned(job=job, previous=current, at=now, completed_request_jobs=completed)
    for listener in session.info[_LISTENERS]:
        listener(session, told)


def _settle_request(session: Session, job: Job, *, previous: JobState, now: datetime) -> list[Job] | None:
    """Mark the request completed when this move ended its last active job; a retry reopens it."""
    if not is_terminal(job.job_state):
        if is_terminal(previous):
            job.request.completed_at = None  # a retried job reopens its request
        return None
    # The row lock serialises the last jobs of a request finishing at once: exactly one sees all terminal.
    # FOR NO KEY UPDATE (key_share): rows flushed in this transaction may hold FOR KEY SHARE on the request
    # through their foreign keys; FOR UPDATE would conflict with another transaction's and deadlock on Postgres.
    session.flush()
    request = session.scalars(
        select(ReprotectRequest)
        .where(ReprotectRequest.id == job.request_id)
        .with_for_update(key_share=True)
        .execution_options(populate_existing=True)
    ).one()
    if request.completed_at is not None:
        return None
    jobs = list(
        session.scalars(
            select(Job)
            .where(Job.request_id == request.id)
            .order_by(Job.vm_name)
            .execution_options(populate_existing=True)
        )
    )
    if not all(is_terminal(j.job_state) for j in jobs):
        return None
    request.completed_at = now
    return jobs


def record_creation(
    session: Session, job: Job, *, now: datetime, actor: str, reason: str = "reprotect requested"
) -> None:
    """The first history entry of a job: it was accepted."""
    session.add(
        JobTransition(
            job=job,
            attempt=job.attempt,
            from_state=None,
            to_state=JobState.ACCEPTED.value,
            at=now,
            reason=reason,
            actor=actor,
            request_id=_stamp_request(job),
        )
    )


def _stamp_request(job: Job) -> str | None:
    """The API request this move comes from: the one in force (an API call, or the task it rang), else the
    latest that moved the job (a step the sweeper rang for). It becomes the job's latest."""
    request_id = current_request_id() or job.origin_request_id
    job.origin_request_id = request_id
    return request_id
