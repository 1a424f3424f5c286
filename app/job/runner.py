"""The worker's unit of work for one job: claim its lease, run one step, record the outcome.

Transactions are short and never span an Azure call: claim (commit), step (Azure, no database),
record (commit, checked against the row's version). A worker killed anywhere in between loses nothing:
the lease expires and the sweeper hands the job to another worker, which resumes from the last
recorded state (and adopts a switch protection that reached Azure instead of submitting twice).
The one write inside a step is the mark committed just before switch protection leaves: a call whose
answer is lost is then waited for, not sent again, however the worker that sent it ended.
"""

from __future__ import annotations

import logging
import random
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import or_, select, update
from sqlalchemy.orm import Session, sessionmaker
from sqlalchemy.orm.exc import StaleDataError

from app.cloud.types import Cloud
from app.db import transaction, utcnow
from app.errors import CloudError, CloudPermanent, CloudThrottled, CloudTransient
from app.job import history
from app.job.eta import eta_from_estimate, eta_from_progress
from app.job.models import Job
from app.job.states import ACTIVE_STATES, JobState, is_terminal
from app.job.steps import JobView, SendGuard, StepResult, deadline_failure, run_step
from app.settings import JobSettings

_ACTIVE = [s.value for s in ACTIVE_STATES]
log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Advanced:
    """What happened to a job in one call: its state afterwards and how soon it is due again."""

    job_id: uuid.UUID
    ran: bool
    state: JobState | None
    due_in: float | None


def advance(
    factory: sessionmaker[Session], *, cloud: Cloud, job_id: uuid.UUID, worker: str, settings: JobSettings
) -> Advanced:
    """Run one step of a job if it is due and nobody else holds it."""
    view = _claim(factory, job_id=job_id, worker=worker, settings=settings)
    if view is None:
        return Advanced(job_id=job_id, ran=False, state=None, due_in=None)
    delay: float | None
    guard = SendGuard(
        settle_seconds=settings.switch_settle_seconds,
        record_sending=lambda: _mark_sent(factory, job_id=job_id, worker=worker, sent=True),
        record_not_sent=lambda: _mark_sent(factory, job_id=job_id, worker=worker, sent=False),
    )
    try:
        result = run_step(cloud, view[0], guard) if view[1] is None else view[1]
        delay = _delay_for(result, settings)
        transient = False
    except LeaseLost:
        _release(factory, job_id=job_id, worker=worker)
        return Advanced(job_id=job_id, ran=True, state=None, due_in=None)
    except CloudThrottled as exc:
        # Jitter spreads a throttled fleet so its retries do not arrive in one burst again.
        delay = exc.retry_after * random.uniform(1.0, 1.5)
        result, transient = StepResult(reason=f"throttled by Azure: {exc.message}"), False
    except CloudTransient as exc:
        delay = exc.retry_after  # a floor under the backoff, when Azure named one
        result, transient = StepResult(reason=f"transient Azure error: {exc.message}"), True
    except CloudPermanent as exc:
        result = StepResult(
            to_state=JobState.FAILED,
            reason=exc.message,
            error_code=exc.code,
            error_message=exc.message,
            error_details=exc.details or None,
        )
        delay, transient = 0.0, False
    except CloudError as exc:
        result, delay, transient = StepResult(reason=exc.message), None, True
    except Exception as exc:
        log.exception("job %s: unexpected error in step", job_id)
        message = f"Unexpected error in the service: {exc!r}. Retry the job once the cause is fixed."
        result = StepResult(
            to_state=JobState.FAILED, reason=message, error_code="internal_error", error_message=message
        )
        delay, transient = 0.0, False
    return _record(
        factory, job_id=job_id, worker=worker, result=result, delay=delay, transient=transient, settings=settings
    )


def _claim(
    factory: sessionmaker[Session], *, job_id: uuid.UUID, worker: str, settings: JobSettings
) -> tuple[JobView, StepResult | None] | None:
    now = utcnow()
    with transaction(factory) as session:
        claimed = session.execute(
            update(Job)
            .where(
                Job.id == job_id,
                Job.state.in_(_ACTIVE),
                or_(Job.lease_until.is_(None), Job.lease_until < now),
                or_(Job.next_due_at.is_(None), Job.next_due_at <= now),
            )
            .values(
                lease_owner=worker,
                lease_until=now + timedelta(seconds=settings.lease_seconds),
                version=Job.version + 1,
            )
            .execution_options(synchronize_session=False)
        )
        if claimed.rowcount != 1:  # type: ignore[attr-defined]
            return None
        job = session.scalars(select(Job).where(Job.id == job_id)).one()
        view = JobView(
            id=str(job.id),
            state=job.job_state,
            item_id=job.item_id,
            vault_id=job.vault_id,
            vm_name=job.vm_name,
            customization=dict(job.customization or {}),
            plan=dict(job.plan or {}),
            asr_job_name=job.asr_job_name,
            new_item_id=job.new_item_id,
            plan_age_seconds=(now - job.created_at).total_seconds() if job.attempt == 1 else None,
            switch_sent_seconds_ago=(now - job.switch_sent_at).total_seconds() if job.switch_sent_at else None,
        )
        overdue = deadline_failure(job.deadline_at) if now > job.deadline_at else None
        return view, overdue


class LeaseLost(Exception):
    """The job stopped being this worker's to submit (lease taken over, or cancelled) before a send."""


def _mark_sent(factory: sessionmaker[Session], *, job_id: uuid.UUID, worker: str, sent: bool) -> None:
    """Commit, before switch protection leaves, that it may reach Azure (only while the job is still
    ours to submit); or, after Azure refused it for certain, that it did not."""
    now = utcnow()
    with transaction(factory) as session:
        marked = session.execute(
            update(Job)
            .where(
                Job.id == job_id,
                Job.lease_owner == worker,
                Job.lease_until > now,
                Job.state == JobState.SUBMITTING.value,
            )
            .values(switch_sent_at=now if sent else None)
            .execution_options(synchronize_session=False)
        )
        if marked.rowcount != 1:  # type: ignore[attr-defined]
            raise LeaseLost(f"job {job_id} is no longer {worker}'s to submit")


def _delay_for(result: StepResult, settings: JobSettings) -> float:
    if result.to_state is not None and is_terminal(result.to_state):
        return 0.0
    if result.look_again_within is not None:
        return max(settings.min_poll_interval_seconds, min(result.look_again_within, settings.poll_interval_seconds))
    return settings.poll_interval_seconds if result.poll else 0.0


def _record(
    factory: sessionmaker[Session],
    *,
    job_id: uuid.UUID,
    worker: str,
    result: StepResult,
    delay: float | None,
    transient: bool,
    settings: JobSettings,
) -> Advanced:
    now = utcnow()
    try:
        with transaction(factory) as session:
            job = session.get(Job, job_id)
            if job is None or job.lease_owner != worker:  # our lease expired and another worker took over
                return Advanced(job_id=job_id, ran=True, state=None, due_in=None)
            due_in = _apply(session, job, result, delay=delay, transient=transient, settings=settings, now=now)
            return Advanced(job_id=job_id, ran=True, state=job.job_state, due_in=due_in)
    except StaleDataError:  # the API changed the row meanwhile (cancel, retry): its word wins
        _release(factory, job_id=job_id, worker=worker)
        return Advanced(job_id=job_id, ran=True, state=None, due_in=None)


def _release(factory: sessionmaker[Session], *, job_id: uuid.UUID, worker: str) -> None:
    """Give the lease back without touching anything else, so the job is not held until it expires."""
    with transaction(factory) as session:
        session.execute(
            update(Job)
            .where(Job.id == job_id, Job.lease_owner == worker)
            .values(lease_owner=None, lease_until=None, dispatched_at=None)
            .execution_options(synchronize_session=False)
        )


def _apply(
    session: Session,
    job: Job,
    result: StepResult,
    *,
    delay: float | None,
    transient: bool,
    settings: JobSettings,
    now: datetime,
) -> float | None:
    for column, value in result.updates.items():
        setattr(job, column, value)
    if transient:
        job.transient_failures += 1
        delay = max(backoff_seconds(job.transient_failures, settings), delay or 0.0)
    else:
        job.transient_failures = 0
    if result.to_state is not None:
        if result.to_state == JobState.FAILED:
            job.failed_in = job.state
            job.error_code = result.error_code
            job.error_message = result.error_message
            job.error_details = result.error_details
        if result.to_state == JobState.REPROTECTING and job.submitted_at is None:
            job.submitted_at = now
        history.transition(session, job, result.to_state, reason=result.reason, now=now, actor="worker")
    _update_eta(job, now)
    job.lease_owner = None
    job.lease_until = None
    job.dispatched_at = None
    job.updated_at = now
    if is_terminal(job.job_state):
        return None
    wait = max(0.0, delay if delay is not None else settings.poll_interval_seconds)
    if 0 < wait < settings.min_poll_interval_seconds and not transient:
        wait = settings.min_poll_interval_seconds
    job.next_due_at = now + timedelta(seconds=wait)
    return wait


def backoff_seconds(failures: int, settings: JobSettings) -> float:
    """Exponential backoff with full jitter for transient Azure errors."""
    ceiling = min(settings.transient_backoff_max_seconds, settings.transient_backoff_base_seconds * 2 ** (failures - 1))
    return random.uniform(ceiling / 2, ceiling)


def _update_eta(job: Job, now: datetime) -> None:
    state = job.job_state
    if is_terminal(state):
        job.eta_at = None
        return
    estimate: Any = (job.plan or {}).get("estimated_seconds")
    job.estimated_seconds = float(estimate) if isinstance(estimate, int | float) else None
    if state == JobState.SYNCING and job.resync_percent:
        since = next((t.at for t in reversed(job.transitions) if t.to_state == JobState.SYNCING.value), now)
        job.eta_at = eta_from_progress(percent=job.resync_percent, watching_since=since, now=now)
    elif job.estimated_seconds is not None:
        job.eta_at = eta_from_estimate(
            started_at=job.submitted_at or job.created_at, estimated_seconds=job.estimated_seconds, now=now
        )
