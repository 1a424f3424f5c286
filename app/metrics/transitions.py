"""Transition metrics: every job state change, how long the job stayed in the state it left (time per step)
and, on reaching ``protected``, its time from acceptance. A listener on the job's transitions, wired by
``app.bootstrap``.

The listener runs inside the transaction that records a move; what it saw is kept on the session and
observed only after the outermost commit, so a rolled-back step (a lost race, a stale row) counts nothing.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import event, select
from sqlalchemy.orm import Session, SessionTransaction, sessionmaker

from app.job import history
from app.job.models import JobTransition
from app.job.states import JobState
from app.metrics import definitions as m

_PENDING = "metrics_pending_transitions"


def install(sessions: sessionmaker[Session]) -> None:
    """Count every transition recorded in a session made by ``sessions``, once it commits."""
    history.listen(sessions, on_transition)
    event.listen(sessions, "after_commit", _observe_committed)
    event.listen(sessions, "after_transaction_end", _forget_uncommitted)


def on_transition(session: Session, moved: history.Transitioned) -> None:
    """Listener: note the move, how long the job was in the state it left, and its time to protected."""
    job = moved.job
    target = job.state
    entered = session.scalar(
        select(JobTransition.at)
        .where(JobTransition.job_id == job.id, JobTransition.to_state == moved.previous.value)
        .order_by(JobTransition.id.desc())
        .limit(1)
    )
    in_state = _seconds(entered, moved.at)
    to_protected = _seconds(job.created_at, moved.at) if target == JobState.PROTECTED.value else None
    session.info.setdefault(_PENDING, []).append((moved.previous.value, target, in_state, to_protected))


def _seconds(start: datetime | None, end: datetime) -> float | None:
    if start is None:
        return None
    return max(0.0, (end - start).total_seconds())


def _observe_committed(session: Session) -> None:
    if session.in_nested_transaction():  # a savepoint released: the outer transaction may still roll back
        return
    for previous, target, in_state, to_protected in session.info.pop(_PENDING, ()):
        m.JOB_TRANSITIONS.labels(previous, target).inc()
        if in_state is not None:
            m.JOB_STATE_DURATION.labels(previous).observe(in_state)
        if to_protected is not None:
            m.JOB_TIME_TO_PROTECTED.observe(to_protected)


def _forget_uncommitted(session: Session, transaction: SessionTransaction) -> None:
    if transaction.parent is None:  # the outermost transaction ended: what was not committed never happened
        session.info.pop(_PENDING, None)
