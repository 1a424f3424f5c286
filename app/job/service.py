"""Use cases the API calls: check and accept a reprotect request, cancel a job, retry a failed one."""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from app.cloud.ids import parse_item_id, parse_vault_id
from app.cloud.types import Cloud
from app.errors import (
    CloudPermanent,
    CloudThrottled,
    CloudTransient,
    Conflict,
    NotFound,
    PrerequisitesFailed,
    VmProblem,
)
from app.job import history
from app.job.models import Job, ReprotectRequest
from app.job.prerequisites import CONFLICT_CODES, VmCheckFailed, resolve_plan
from app.job.schemas import Plan, VmTarget
from app.job.states import ACTIVE_STATES, PRE_SUBMISSION_STATES, JobState, retry_entry_state
from app.settings import JobSettings
from app.webhooks.signing import new_secret

# Failures of our watching, not of Azure's reprotect: a retry resumes watching.
WATCHING_FAILURES = frozenset({"deadline_exceeded", "internal_error"})


def check_all(*, cloud: Cloud, targets: list[VmTarget], concurrency: int) -> list[Plan]:
    """Resolve every VM's plan in parallel; raise ``PrerequisitesFailed`` listing every VM that fails."""

    def check(target: VmTarget) -> Plan | VmProblem:
        try:
            return _patiently(lambda: resolve_plan(cloud, target))
        except VmCheckFailed as failed:
            return failed.problem
        except CloudPermanent as exc:
            return VmProblem(vm=target.label, code="azure_refused", message=exc.message, asr_error=exc.details)

    # Throttling and transient errors propagate: the caller cannot decide, and answers 503.
    with ThreadPoolExecutor(max_workers=max(1, min(concurrency, len(targets)))) as pool:
        results = list(pool.map(check, targets))
    failures = [r for r in results if isinstance(r, VmProblem)]
    if failures:
        raise PrerequisitesFailed(failures, conflict=all(p.code in CONFLICT_CODES for p in failures))
    plans = [r for r in results if isinstance(r, Plan)]
    _refuse_duplicates(targets, plans)
    return plans


def _patiently(check: Callable[[], Plan], *, budget: float = 30.0) -> Plan:
    """Retry a check through throttling or transient errors while the caller's wait stays within ``budget``."""
    waited = 0.0
    attempt = 0
    while True:
        try:
            return check()
        except (CloudThrottled, CloudTransient) as exc:
            wait = exc.retry_after if exc.retry_after is not None else min(8.0, 0.5 * 2**attempt)
            if waited + wait > budget:
                raise  # the API answers 503 with Retry-After: nothing was created
            time.sleep(wait)
            waited += wait
            attempt += 1


def _refuse_duplicates(targets: list[VmTarget], plans: list[Plan]) -> None:
    """One VM named twice (by the same id, or by id and by name) is refused: it would be one job."""
    keys = [vm_key(plan.vault_id, parse_item_id(plan.item_id).name) for plan in plans]
    repeated = [
        VmProblem(vm=target.label, code="duplicate_vm", message="This VM is named twice in the request.")
        for index, (target, key) in enumerate(zip(targets, keys, strict=True))
        if key in keys[:index]
    ]
    if repeated:
        raise PrerequisitesFailed(repeated)


def vm_key(vault_id: str, item_name: str) -> str:
    """The identity of a VM across its item's move: the vault plus the item's name, case-folded."""
    return f"{parse_vault_id(vault_id).key}/{item_name.lower()}"


def create_request(
    session: Session,
    *,
    targets: list[VmTarget],
    plans: list[Plan],
    settings: JobSettings,
    requested_by: str | None,
    now: datetime,
    callback_url: str | None = None,
) -> ReprotectRequest:
    """Record an accepted request and one job per VM; refuse (409) VMs that already have an active job."""
    keys = [vm_key(plan.vault_id, parse_item_id(plan.item_id).name) for plan in plans]
    _refuse_active(session, keys, plans)
    request = ReprotectRequest(
        id=uuid.uuid4(),
        created_at=now,
        vm_count=len(plans),
        requested_by=requested_by,
        callback_url=callback_url,
        callback_secret=new_secret() if callback_url else None,
    )
    session.add(request)
    for target, plan, key in zip(targets, plans, keys, strict=True):
        job = Job(
            id=uuid.uuid4(),
            request=request,
            vm_key=key,
            vm_name=plan.vm,
            vault_id=plan.vault_id,
            subscription_id=parse_vault_id(plan.vault_id).subscription_id,
            item_id=plan.item_id,
            customization=target.model_dump(exclude_none=True, exclude={"item_id", "vault_id", "vm_name"}),
            plan=plan.model_dump(mode="json"),
            state=JobState.ACCEPTED.value,
            attempt=1,
            next_due_at=now,
            deadline_at=now + timedelta(hours=settings.deadline_hours),
            requested_by=requested_by,
            created_at=now,
            updated_at=now,
        )
        session.add(job)
        history.record_creation(session, job, now=now, actor=requested_by or "api")
    try:
        session.flush()
    except IntegrityError as exc:  # a concurrent request won the race for one of these VMs
        raise RaceLost(keys, plans) from exc
    return request


class RaceLost(Conflict):
    """A concurrent request was accepted for one of these VMs between our check and our insert."""

    code = "vm_has_active_job"

    def __init__(self, keys: list[str], plans: list[Plan]):
        super().__init__("Another request for one of these VMs was accepted at the same moment.")
        self.keys = keys
        self.plans = plans


def explain_race(session: Session, lost: RaceLost) -> None:
    """Name the jobs that won (a 409 listing them); returns only if they already ended."""
    _refuse_active(session, lost.keys, lost.plans)


def _refuse_active(session: Session, keys: list[str], plans: list[Plan]) -> None:
    active = session.scalars(
        select(Job).where(Job.vm_key.in_(keys), Job.state.in_([s.value for s in ACTIVE_STATES]))
    ).all()
    if not active:
        return
    by_key = {job.vm_key: job for job in active}
    problems = [
        VmProblem(
            vm=plan.item_id,
            code="vm_has_active_job",
            message=f"Job {by_key[key].id} is already reprotecting this VM ({by_key[key].state}); "
            "follow it or cancel it.",
        )
        for key, plan in zip(keys, plans, strict=True)
        if key in by_key
    ]
    raise PrerequisitesFailed(problems, conflict=True)


def get_job(session: Session, job_id: uuid.UUID) -> Job:
    """A job by id, or ``NotFound``."""
    job = session.get(Job, job_id)
    if job is None:
        raise NotFound(f"No job {job_id}.", code="job_not_found")
    return job


def cancel(session: Session, *, cloud: Cloud, job_id: uuid.UUID, now: datetime, actor: str) -> Job | AzureCancel:
    """Cancel a job on our side alone before submission; after it, say which ASR job Azure must cancel."""
    job = get_job(session, job_id)
    state = job.job_state
    if state not in ACTIVE_STATES:
        raise Conflict(f"The job is already {state.value}.", code="job_terminal")
    if state in PRE_SUBMISSION_STATES:
        if state == JobState.SUBMITTING and _submission_may_have_reached_azure(cloud, job, now):
            raise Conflict(
                "Switch protection is being submitted to Azure right now; retry the cancel in a few seconds.",
                code="submission_in_progress",
            )
        history.transition(session, job, JobState.CANCELLED, reason="cancelled before submission", now=now, actor=actor)
        session.flush()
        return job
    if state == JobState.SYNCING:
        raise Conflict(
            "Azure has finished the reprotect and replication is resynchronising; it cannot be cancelled. "
            "To stop it, disable replication for the VM.",
            code="cancel_not_allowed",
        )
    return AzureCancel(job_id=job.id, vault_id=job.vault_id, asr_job_name=job.asr_job_name)


def _submission_may_have_reached_azure(cloud: Cloud, job: Job, now: datetime) -> bool:
    """A worker holds the job, or Azure already runs an operation on the item: cancel must wait."""
    if job.lease_until is not None and job.lease_until > now:
        return True
    item = cloud.get_item(parse_item_id(job.item_id))
    return item is None or item.current_job_id is not None


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
    entry = retry_entry_state(failed_in, azure_failed=azure_failed or not job.asr_job_name)
    job.attempt += 1
    if entry == JobState.VALIDATING:
        job.asr_job_id = job.asr_job_name = job.asr_job_state = None
        job.asr_tasks = []
        job.submitted_at = None
        job.switch_sent_at = None
    job.error_code = job.error_message = None
    job.error_details = None
    job.failed_in = None
    job.finished_at = None
    job.transient_failures = 0
    job.next_due_at = now
    job.dispatched_at = None
    job.deadline_at = now + timedelta(hours=settings.deadline_hours)
    history.transition(session, job, entry, reason=f"retry requested (attempt {job.attempt})", now=now, actor=actor)
    try:
        session.flush()
    except IntegrityError as exc:
        raise Conflict("Another job is already active for this VM.", code="vm_has_active_job") from exc
    return job
