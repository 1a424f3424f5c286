"""Operators' actions on a job: cancel (ours alone before submission, Azure's after) and retry."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from app.cloud.ids import parse_item_id, parse_vault_id
from app.cloud.types import Cloud
from app.errors import CloudAuthFailed, CloudForbidden, CloudPermanent, Conflict
from app.job import history
from app.job.models import Job
from app.job.queries import get_job
from app.job.states import ACTIVE_STATES, PRE_SUBMISSION_STATES, JobState, retry_entry_state
from app.settings import JobSettings

# Failures of our watching, not of Azure's reprotect: a retry resumes watching.
WATCHING_FAILURES = frozenset({"deadline_exceeded", "internal_error"})


@dataclass(frozen=True)
class AskAzureFirst:
    """A job still ``submitting`` with no worker on it: cancel only if Azure shows no operation on the item."""

    job_id: uuid.UUID
    item_id: str
    version: int


def decide_cancel(job: Job, *, now: datetime, settle_seconds: float) -> AskAzureFirst | AzureCancel | None:
    """How to cancel ``job``: None when our side alone may do it at once; ``Conflict`` when it cannot be.

    A switch protection sent without an answer may still land in Azure for ``settle_seconds``: until then
    the job cannot be cancelled on our side alone (the reprotect landing afterwards would run unwatched).
    """
    state = job.job_state
    if state not in ACTIVE_STATES:
        raise Conflict(f"The job is already {state.value}.", code="job_terminal")
    if state in PRE_SUBMISSION_STATES:
        if state != JobState.SUBMITTING:
            return None
        if job.lease_until is not None and job.lease_until > now:  # a worker may be sending it right now
            raise _submission_in_progress()
        if job.switch_sent_at is not None:
            landing_by = job.switch_sent_at + timedelta(seconds=settle_seconds)
            if now < landing_by:
                raise Conflict(
                    "A switch protection sent to Azure got no answer and may still land until "
                    f"{landing_by.isoformat()}; retry the cancel after that (or once the job is reprotecting).",
                    code="submission_in_progress",
                )
        return AskAzureFirst(job_id=job.id, item_id=job.item_id, version=job.version)
    if state == JobState.SYNCING:
        raise Conflict(
            "Azure has finished the reprotect and replication is resynchronising; it cannot be cancelled. "
            "To stop it, disable replication for the VM.",
            code="cancel_not_allowed",
        )
    return AzureCancel(job_id=job.id, vault_id=job.vault_id, asr_job_name=job.asr_job_name)


def check_nothing_submitted(cloud: Cloud, order: AskAzureFirst) -> None:
    """``Conflict`` when Azure already runs an operation on the item (our switch protection may have landed)."""
    item = cloud.get_item(parse_item_id(order.item_id))
    if item is None or item.current_job_id is not None:
        raise _submission_in_progress()


def cancel_unsubmitted(
    session: Session, job: Job, *, now: datetime, actor: str, seen_version: int | None = None
) -> Job:
    """Cancel on our side alone; with ``seen_version``, only if no worker touched the job since it was read."""
    if seen_version is not None and (job.version != seen_version or job.job_state != JobState.SUBMITTING):
        raise _submission_in_progress()
    history.transition(session, job, JobState.CANCELLED, reason="cancelled before submission", now=now, actor=actor)
    session.flush()
    return job


def _submission_in_progress() -> Conflict:
    return Conflict(
        "Switch protection is being submitted to Azure right now; retry the cancel in a few seconds.",
        code="submission_in_progress",
    )


@dataclass(frozen=True)
class AzureCancel:
    """A cancel that only Azure can carry out: the ASR job to cancel, asked outside any transaction."""

    job_id: uuid.UUID
    vault_id: str
    asr_job_name: str | None


def cancel_in_azure(*, cloud: Cloud, order: AzureCancel) -> None:
    """Ask Azure to cancel the ASR job if it still allows it; else ``Conflict`` with the reason."""
    vault = parse_vault_id(order.vault_id)
    if not order.asr_job_name:
        raise Conflict("The ASR job is not known yet; retry the cancel shortly.", code="submission_in_progress")
    asr_job = cloud.get_job(vault, order.asr_job_name)
    if asr_job is None or "Cancel" not in asr_job.allowed_actions:
        running = next((t.name for t in (asr_job.tasks if asr_job else ()) if t.state == "InProgress"), None)
        where = f" (it is at '{running}')" if running else ""
        raise Conflict(f"Azure no longer allows cancelling this reprotect{where}.", code="cancel_not_allowed")
    try:
        cloud.cancel_job(vault, order.asr_job_name)
    except (CloudAuthFailed, CloudForbidden):
        raise  # the service's identity is the problem, not the job's state
    except CloudPermanent as exc:
        raise Conflict(f"Azure refused to cancel the reprotect: {exc.message}", code="cancel_not_allowed") from exc


def note_cancel_requested(session: Session, *, job_id: uuid.UUID, now: datetime, actor: str) -> Job:
    """Record that Azure accepted a cancel; the worker sees the ASR job end as Cancelled."""
    job = get_job(session, job_id)
    # No version check: a worker may have polled meanwhile, and Azure has already accepted the cancel.
    details = {**(job.error_details or {}), "cancel_requested_by": actor, "cancel_requested_at": now.isoformat()}
    session.execute(
        update(Job)
        .where(Job.id == job_id)
        .values(error_details=details, next_due_at=now)
        .execution_options(synchronize_session=False)
    )
    session.expire(job)
    return get_job(session, job_id)


def retry(session: Session, *, job_id: uuid.UUID, settings: JobSettings, now: datetime, actor: str) -> Job:
    """Run a failed job again, from where it failed, as a new attempt in the same history."""
    job = get_job(session, job_id)
    if job.job_state != JobState.FAILED:
        raise Conflict(f"Only a failed job can be retried; this one is {job.state}.", code="job_not_failed")
    azure_failed = job.error_code not in WATCHING_FAILURES
    failed_in = JobState(job.failed_in) if job.failed_in else JobState.VALIDATING
    entry = retry_entry_state(
        failed_in, azure_failed=azure_failed or not job.asr_job_name, asr_job_known=bool(job.asr_job_name)
    )
    job.attempt += 1
    if entry == JobState.VALIDATING:
        job.asr_job_id = job.asr_job_name = job.asr_job_state = None
        job.asr_tasks = []
        job.submitted_at = None
    if entry in (JobState.VALIDATING, JobState.SUBMITTING):
        # This attempt has sent nothing yet; the failed ASR job stays known so the retry can Restart it.
        job.switch_sent_at = None
    job.error_code = job.error_message = None
    job.error_details = None
    job.failed_in = None
    job.finished_at = None
    job.transient_failures = 0
    job.next_due_at = now
    job.dispatched_at = None
    job.unanswered_rings = 0
    job.deadline_at = now + timedelta(hours=settings.deadline_hours)
    history.transition(session, job, entry, reason=f"retry requested (attempt {job.attempt})", now=now, actor=actor)
    try:
        session.flush()
    except IntegrityError as exc:
        raise Conflict("Another job is already active for this VM.", code="vm_has_active_job") from exc
    return job
