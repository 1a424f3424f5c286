"""The terminal counts: how many jobs are protected, failed or cancelled per vault and subscription.

A transition listener keeps them in the transaction that records the move (a job reaching a terminal
state adds one, a retry out of ``failed`` takes one away), so the summaries read a few hundred counter
rows instead of counting a million finished jobs. ``recount`` rebuilds them from the jobs (seeding, repair).
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import delete, func, insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from app.job.history import Transitioned
from app.job.models import Job, JobTerminalCount
from app.job.states import TERMINAL_STATES, is_terminal

_TERMINAL = sorted(state.value for state in TERMINAL_STATES)


def on_transition(session: Session, moved: Transitioned) -> None:
    """Listener: keep the counts in step with a job's move in or out of a terminal state."""
    job = moved.job
    if is_terminal(moved.previous):
        _add(session, job, moved.previous.value, -1)
    if is_terminal(job.job_state):
        _add(session, job, job.state, 1)


def _add(session: Session, job: Job, state: str, delta: int) -> None:
    key = {"vault_key": job.vault_id.lower(), "subscription_id": job.subscription_id, "state": state}
    where = [getattr(JobTerminalCount, name) == value for name, value in key.items()]
    done = session.execute(update(JobTerminalCount).where(*where).values(count=JobTerminalCount.count + delta))
    if _rowcount(done) == 0:
        # First job of this vault in this state: insert, and fall back to the update if another
        # transaction inserted the row meanwhile (the savepoint keeps this transaction usable).
        try:
            with session.begin_nested():
                session.execute(insert(JobTerminalCount).values(**key, count=delta))
        except IntegrityError:
            session.execute(update(JobTerminalCount).where(*where).values(count=JobTerminalCount.count + delta))


def _rowcount(result: Any) -> int:
    return int(getattr(result, "rowcount", 0) or 0)


def recount(session: Session) -> None:
    """Rebuild every count from the jobs themselves."""
    session.execute(delete(JobTerminalCount))
    grouped = (
        select(func.lower(Job.vault_id), Job.subscription_id, Job.state, func.count())
        .where(Job.state.in_(_TERMINAL))
        .group_by(func.lower(Job.vault_id), Job.subscription_id, Job.state)
    )
    session.execute(insert(JobTerminalCount).from_select(["vault_key", "subscription_id", "state", "count"], grouped))
