"""Accepting a reprotect: check every VM in parallel, refuse the batch if any fails, record one job per VM."""

from __future__ import annotations

import contextlib
import time
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from app.cloud.ids import parse_item_id, parse_vault_id
from app.cloud.snapshots import SnapshotCloud, listing
from app.cloud.types import Cloud
from app.errors import (
    CloudAuthFailed,
    CloudError,
    CloudForbidden,
    CloudPermanent,
    CloudThrottled,
    CloudTransient,
    Conflict,
    InvalidRequest,
    PrerequisitesFailed,
    VmProblem,
)
from app.job import history
from app.job.kinds import JobKind
from app.job.models import Job, ReprotectRequest
from app.job.plan import ReprotectPlan
from app.job.prerequisites import CONFLICT_CODES, ITEM_STATE_CODES, VmCheckFailed, resolve_plan
from app.job.schemas import VmTarget
from app.job.states import ACTIVE_STATES, JobState
from app.leases import Backoff
from app.outbound.signing import new_secret
from app.settings import JobSettings

# How long the caller of POST /reprotect waits through throttling or blips before it gets a 503 instead.
PATIENCE_SECONDS = 30.0
_PATIENCE = Backoff(base_seconds=0.5, ceiling_seconds=8.0, jitter=(1.0, 1.0))


def check_all(*, cloud: Cloud, targets: list[VmTarget], concurrency: int) -> list[ReprotectPlan]:
    """Resolve every VM's plan in parallel; raise ``PrerequisitesFailed`` listing every VM that fails.

    Items, VMs and Resource Health come from the shared list snapshots (``app.cloud.snapshots``): a batch of
    100 VMs of one vault costs a few list pages, not five reads per VM; refusals are confirmed per item.
    """
    lists = listing(cloud)
    if isinstance(lists, SnapshotCloud):  # the batch's lists, loaded side by side before the checks ask
        _prefetch(lists, targets)

    def check(target: VmTarget) -> ReprotectPlan | VmProblem:
        answer = _checked(lists, target)
        if lists is not cloud and isinstance(answer, VmProblem) and answer.code in ITEM_STATE_CODES:
            # Judged from an item in a list snapshot, which may predate an operation of ours that just ended (a
            # commit a moment ago still looks uncommitted there): a refusal is confirmed with the item itself.
            answer = _checked(cloud, target)
        return answer

    # Throttling and transient errors propagate: the caller cannot decide, and answers 503.
    with ThreadPoolExecutor(max_workers=max(1, min(concurrency, len(targets)))) as pool:
        results = list(pool.map(check, targets))
    failures = [r for r in results if isinstance(r, VmProblem)]
    if failures:
        raise PrerequisitesFailed(failures, conflict=all(p.code in CONFLICT_CODES for p in failures))
    plans = [r for r in results if isinstance(r, ReprotectPlan)]
    _refuse_duplicates(targets, plans)
    return plans


def _checked(cloud: Cloud, target: VmTarget) -> ReprotectPlan | VmProblem:
    """One VM's plan, or why it cannot be reprotected."""
    try:
        return _patiently(lambda: resolve_plan(cloud, target))
    except VmCheckFailed as failed:
        return failed.problem
    except CloudAuthFailed:
        raise  # no VM can be checked: the whole request fails with the identity's problem
    except CloudForbidden as exc:  # roles may differ per VM (its resource group, its subscription)
        return VmProblem(vm=target.label, code=exc.code, message=exc.message, asr_error=exc.details)
    except CloudPermanent as exc:
        return VmProblem(vm=target.label, code="azure_refused", message=exc.message, asr_error=exc.details)


def _prefetch(cloud: SnapshotCloud, targets: list[VmTarget]) -> None:
    """Load the lists of the batch's vaults and subscriptions; a failure here is met again, and reported, by
    each VM's own check."""
    with contextlib.suppress(CloudError, InvalidRequest):
        vaults = {}
        for target in targets:
            vault_id = target.vault_id or (parse_item_id(target.item_id).vault.id if target.item_id else None)
            if vault_id:
                vault = parse_vault_id(str(vault_id))
                vaults[vault.key] = vault
        cloud.prefetch(list(vaults.values()))


def _patiently(check: Callable[[], ReprotectPlan], *, budget: float = PATIENCE_SECONDS) -> ReprotectPlan:
    """Retry a check through throttling or transient errors while the caller's wait stays within ``budget``."""
    waited = 0.0
    failures = 0
    while True:
        try:
            return check()
        except (CloudThrottled, CloudTransient) as exc:
            failures += 1
            wait = exc.retry_after if exc.retry_after is not None else _PATIENCE.delay(failures)
            if waited + wait > budget:
                raise  # the API answers 503 with Retry-After: nothing was created
            time.sleep(wait)
            waited += wait


def _refuse_duplicates(targets: list[VmTarget], plans: list[ReprotectPlan]) -> None:
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
    plans: list[ReprotectPlan],
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
        add_job(
            session,
            request,
            NewJob(
                kind=JobKind.REPROTECT_BACK if plan.direction.restores_original else JobKind.REPROTECT,
                vm_key=key,
                vm_name=plan.vm,
                item_id=plan.item_id,
                vault_id=plan.vault_id,
                customization=target.model_dump(exclude_none=True, exclude={"item_id", "vault_id", "vm_name"}),
                plan=plan.to_json(),
            ),
            settings=settings,
            requested_by=requested_by,
            now=now,
            reason="reprotect requested",
        )
    try:
        session.flush()
    except IntegrityError as exc:  # a concurrent request won the race for one of these VMs
        raise RaceLost(keys, plans) from exc
    return request


@dataclass(frozen=True)
class NewJob:
    """What a new job of any kind is about: its VM, what it does and the options it was given."""

    kind: JobKind
    vm_key: str
    vm_name: str
    item_id: str
    vault_id: str
    customization: dict[str, Any]
    plan: dict[str, Any]


def add_job(
    session: Session,
    request: ReprotectRequest,
    new: NewJob,
    *,
    settings: JobSettings,
    requested_by: str | None,
    now: datetime,
    reason: str,
) -> Job:
    """Add one accepted job of ``request`` (due now, its deadline from ``settings``) and its first history entry."""
    job = Job(
        id=uuid.uuid4(),
        request=request,
        kind=new.kind.value,
        vm_key=new.vm_key,
        vm_name=new.vm_name,
        vault_id=new.vault_id,
        subscription_id=parse_vault_id(new.vault_id).subscription_id,
        item_id=new.item_id,
        customization=new.customization,
        plan=new.plan,
        state=JobState.ACCEPTED.value,
        attempt=1,
        next_due_at=now,
        deadline_at=now + timedelta(hours=settings.deadline_hours),
        requested_by=requested_by,
        created_at=now,
        updated_at=now,
    )
    session.add(job)
    history.record_creation(session, job, now=now, actor=requested_by or "api", reason=reason)
    return job


class RaceLost(Conflict):
    """A concurrent request was accepted for one of these VMs between our check and our insert."""

    code = "vm_has_active_job"

    def __init__(self, keys: list[str], plans: list[ReprotectPlan]):
        super().__init__("Another request for one of these VMs was accepted at the same moment.")
        self.keys = keys
        self.plans = plans


def explain_race(session: Session, lost: RaceLost) -> None:
    """Name the jobs that won (a 409 listing them); returns only if they already ended."""
    _refuse_active(session, lost.keys, lost.plans)


def _refuse_active(session: Session, keys: list[str], plans: list[ReprotectPlan]) -> None:
    refuse_active(
        session,
        keys,
        [plan.item_id for plan in plans],
        lambda job: f"Job {job.id} is already reprotecting this VM ({job.state}); follow it or cancel it.",
    )


def refuse_active(session: Session, keys: list[str], labels: list[str], running: Callable[[Job], str]) -> None:
    """``PrerequisitesFailed`` (a conflict) naming, for each VM (``labels``, by ``keys``) with an active job of
    any kind, that job (``running`` words it); returns when none has one."""
    active = session.scalars(
        select(Job).where(Job.vm_key.in_(keys), Job.state.in_([s.value for s in ACTIVE_STATES]))
    ).all()
    if not active:
        return
    by_key = {job.vm_key: job for job in active}
    problems = [
        VmProblem(vm=label, code="vm_has_active_job", message=running(by_key[key]))
        for key, label in zip(keys, labels, strict=True)
        if key in by_key
    ]
    raise PrerequisitesFailed(problems, conflict=True)
