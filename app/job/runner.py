"""One step of one job under its lease: claim it, run the step, record what it found and when to look again.

Nothing here opens a transaction: ``app.job.service.advance`` claims in one (commit), runs the step with
none open (the Azure calls), and records in another, checked against the lease and the row's version.
A worker killed anywhere in between loses nothing: the lease expires and the sweeper hands the job to
another worker, which resumes from the last recorded state (and adopts a switch protection that reached
Azure instead of submitting twice). The one write inside a step is the mark committed just before
switch protection leaves (:func:`mark_sent`): a call whose answer is lost is then waited for, not sent again.
"""

from __future__ import annotations

import logging
import uuid
from dataclasses import asdict, dataclass
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.cloud.types import Cloud
from app.errors import CloudError, CloudPermanent, CloudThrottled, CloudTransient
from app.job import history
from app.job.cache_accounts import ClaimStore
from app.job.eta import eta_from_estimate, eta_from_progress, next_poll_seconds
from app.job.item_steps import run_item_step
from app.job.kinds import REPROTECT_KINDS
from app.job.models import Job
from app.job.states import ACTIVE_STATES, JobState, is_terminal
from app.job.steps import JobView, Learned, SendGuard, StepResult, deadline_failure, run_step
from app.leases import Backoff, LeasedTable
from app.metrics import jobs as job_metrics
from app.settings import JobSettings

log = logging.getLogger(__name__)
_ACTIVE = [s.value for s in ACTIVE_STATES]

JOBS = LeasedTable(
    id=Job.id,
    due_at=Job.next_due_at,
    lease_owner=Job.lease_owner,
    lease_until=Job.lease_until,
    dispatched_at=Job.dispatched_at,
    unanswered_rings=Job.unanswered_rings,
    live=lambda: Job.state.in_(_ACTIVE),
    due_when_unset=True,
    claim_values=lambda: {Job.version: Job.version + 1},  # a claim is a change the API's writes must see
)


def retry_policy(settings: JobSettings) -> Backoff:
    """Transient Azure errors back off exponentially with full jitter; a throttled job comes back after
    Azure's Retry-After, spread by up to half again so a throttled fleet does not return in one burst."""
    return Backoff(
        base_seconds=settings.transient_backoff_base_seconds,
        ceiling_seconds=settings.transient_backoff_max_seconds,
        jitter=(0.5, 1.0),
        retry_after_spread=(1.0, 1.5),
    )


@dataclass(frozen=True)
class Advanced:
    """What happened to a job in one call: its state afterwards and how soon it is due again."""

    job_id: uuid.UUID
    ran: bool
    state: JobState | None
    due_in: float | None


@dataclass(frozen=True)
class Claimed:
    """A job this worker now holds: what its step needs, or the failure it is due for (past its deadline)."""

    view: JobView
    overdue: StepResult | None
    attempt: int = 1
    origin_request_id: str | None = None  # the API request that last moved the job (``app.logs``)


@dataclass(frozen=True)
class Outcome:
    """A step's result and how to schedule the next one: a fixed delay, or a transient failure to back off."""

    result: StepResult
    delay: float | None = None
    transient: bool = False
    retry_after: float | None = None  # Azure's floor under a transient failure's backoff
    lease_lost: bool = False


class LeaseLost(Exception):
    """The job stopped being this worker's to submit (lease taken over, or cancelled) before a send."""


def claim(session: Session, *, job_id: uuid.UUID, worker: str, now: datetime, settings: JobSettings) -> Claimed | None:
    """Take the job's lease if it is active, due and free; its snapshot for the step."""
    if not JOBS.claim(session, job_id, worker=worker, now=now, lease_seconds=settings.lease_seconds):
        return None
    job = session.scalars(select(Job).where(Job.id == job_id)).one()
    view = JobView(
        id=str(job.id),
        state=job.job_state,
        item_id=job.item_id,
        vault_id=job.vault_id,
        vm_name=job.vm_name,
        customization=dict(job.customization or {}),
        stored_plan=dict(job.plan) if job.plan else None,
        asr_job_name=job.asr_job_name,
        new_item_id=job.new_item_id,
        plan_age_seconds=(now - job.created_at).total_seconds() if job.attempt == 1 else None,
        switch_sent_seconds_ago=(now - job.switch_sent_at).total_seconds() if job.switch_sent_at else None,
        kind=job.kind or "reprotect",
    )
    overdue = deadline_failure(job.deadline_at) if now > job.deadline_at else None
    return Claimed(view=view, overdue=overdue, attempt=job.attempt, origin_request_id=job.origin_request_id)


def mark_sent(session: Session, *, job_id: uuid.UUID, worker: str, now: datetime, sent: bool) -> None:
    """Record, before switch protection leaves, that it may reach Azure (only while the job is still this
    worker's to submit); or, after Azure refused it for certain, that it did not. ``LeaseLost`` otherwise."""
    still_ours = JOBS.write_if_held(
        session,
        job_id,
        {Job.switch_sent_at: now if sent else None},
        worker=worker,
        now=now,
        also=Job.state == JobState.SUBMITTING.value,
    )
    if not still_ours:
        raise LeaseLost(f"job {job_id} is no longer {worker}'s to submit")


@job_metrics.timed_step
def run(
    cloud: Cloud, claimed: Claimed, guard: SendGuard, settings: JobSettings, claims: ClaimStore | None = None
) -> Outcome:
    """Run the claimed job's step (no transaction open); Azure's errors become delays or failures."""
    if claimed.overdue is not None:
        return Outcome(result=claimed.overdue, delay=0.0)
    try:
        if claimed.view.kind in REPROTECT_KINDS:
            result = run_step(cloud, claimed.view, guard, claims)
        else:  # the item operations: the same states and rules, their own validate, submit and done
            result = run_item_step(cloud, claimed.view, guard)
        return Outcome(result=result, delay=_delay_for(result, settings))
    except LeaseLost:
        return Outcome(result=StepResult(), lease_lost=True)
    except CloudThrottled as exc:
        delay = retry_policy(settings).delay(0, retry_after=exc.retry_after)
        job_metrics.throttled(delay)
        return Outcome(result=StepResult(reason=f"throttled by Azure: {exc.message}"), delay=delay)
    except CloudTransient as exc:
        result = StepResult(reason=f"transient Azure error: {exc.message}")
        return Outcome(result=result, transient=True, retry_after=exc.retry_after)
    except CloudPermanent as exc:
        failed = StepResult(
            to_state=JobState.FAILED,
            reason=exc.message,
            error_code=exc.code,
            error_message=exc.message,
            error_details=exc.details or None,
        )
        return Outcome(result=failed, delay=0.0)
    except CloudError as exc:
        return Outcome(result=StepResult(reason=exc.message), transient=True)
    except Exception as exc:
        log.exception("job %s: unexpected error in step", claimed.view.id)
        message = f"Unexpected error in the service: {exc!r}. Retry the job once the cause is fixed."
        failed = StepResult(
            to_state=JobState.FAILED, reason=message, error_code="internal_error", error_message=message
        )
        return Outcome(result=failed, delay=0.0)


def _delay_for(result: StepResult, settings: JobSettings) -> float:
    if result.to_state is not None and is_terminal(result.to_state):
        return 0.0
    if result.look_again_within is not None:
        return max(settings.min_poll_interval_seconds, min(result.look_again_within, settings.poll_interval_seconds))
    return settings.poll_interval_seconds if result.poll else 0.0


def record(
    session: Session, *, job_id: uuid.UUID, worker: str, outcome: Outcome, settings: JobSettings, now: datetime
) -> Advanced:
    """Apply a step's outcome if this worker still holds the job (the row's version guards the rest)."""
    job = JOBS.held_row(session, job_id, worker=worker)  # the version column guards the write
    if job is None:  # our lease expired and another worker took over (or the job ended meanwhile)
        return Advanced(job_id=job_id, ran=True, state=None, due_in=None)
    due_in = _apply(session, job, outcome, settings=settings, now=now)
    return Advanced(job_id=job_id, ran=True, state=job.job_state, due_in=due_in)


def release(session: Session, *, job_id: uuid.UUID, worker: str) -> None:
    """Give the lease back untouched (the step's result was not recorded)."""
    JOBS.release(session, job_id, worker=worker)


def _apply(session: Session, job: Job, outcome: Outcome, *, settings: JobSettings, now: datetime) -> float | None:
    result = outcome.result
    _remember(job, result.learned)
    delay = outcome.delay
    if outcome.transient:
        job.transient_failures += 1
        delay = retry_policy(settings).delay(job.transient_failures, retry_after=outcome.retry_after)
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
    JOBS.let_go(job)
    job.updated_at = now
    if is_terminal(job.job_state):
        return None
    wait = max(0.0, delay if delay is not None else settings.poll_interval_seconds)
    if _plain_poll(job, outcome, settings):  # an in-flight job: look again as its expected end comes closer
        wait = next_poll_seconds(
            eta_at=job.eta_at, now=now, floor=settings.poll_interval_seconds, ceiling=settings.max_poll_interval_seconds
        )
    if 0 < wait < settings.min_poll_interval_seconds and not outcome.transient:
        wait = settings.min_poll_interval_seconds
    job.next_due_at = now + timedelta(seconds=wait)
    return wait


def _plain_poll(job: Job, outcome: Outcome, settings: JobSettings) -> bool:
    """A routine look at a job whose ASR job or resync is running (no backoff, no sooner look asked for)."""
    result = outcome.result
    return (
        job.job_state in (JobState.REPROTECTING, JobState.SYNCING)
        and result.poll
        and result.to_state is None
        and result.look_again_within is None
        and not outcome.transient
        and outcome.delay == settings.poll_interval_seconds
    )


def _remember(job: Job, learned: Learned) -> None:
    """Write what the step learned onto the row; fields it did not learn keep their value."""
    if learned.plan is not None:
        job.plan = learned.plan.to_json()
    if learned.asr_job_name is not None:
        job.asr_job_name = learned.asr_job_name
    if learned.asr_job_id is not None:
        job.asr_job_id = learned.asr_job_id
    if learned.asr_job_state is not None:
        job.asr_job_state = learned.asr_job_state
    if learned.asr_tasks is not None:
        job.asr_tasks = [asdict(task) for task in learned.asr_tasks]
    if learned.new_item_id is not None:
        job.new_item_id = learned.new_item_id
    if learned.resync_percent is not None:
        job.resync_percent = learned.resync_percent


def _update_eta(job: Job, now: datetime) -> None:
    state = job.job_state
    if is_terminal(state):
        job.eta_at = None
        return
    # Read tolerantly: recording must not trip on a broken row (its step fails it as internal_error instead).
    estimate = (job.plan or {}).get("estimated_seconds")
    job.estimated_seconds = float(estimate) if isinstance(estimate, int | float) else None
    if state == JobState.SYNCING and job.resync_percent:
        since = next((t.at for t in reversed(job.transitions) if t.to_state == JobState.SYNCING.value), now)
        job.eta_at = eta_from_progress(percent=job.resync_percent, watching_since=since, now=now)
    elif job.estimated_seconds is not None:
        job.eta_at = eta_from_estimate(
            started_at=job.submitted_at or job.created_at, estimated_seconds=job.estimated_seconds, now=now
        )
