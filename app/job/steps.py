"""One step of a job per state: ask Azure, decide, and return what to record. No database here.

A step never waits for Azure: it reads or submits once and says when the job is next due.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any

from app.cloud.ids import ItemRef, parse_item_id, parse_vault_id, same_id
from app.cloud.types import AsrJob, Cloud, ReplicatedItem, SwitchProtectionSpec
from app.errors import CloudPermanent, CloudThrottled
from app.job.prerequisites import VmCheckFailed, recheck, resolve_plan
from app.job.schemas import Plan, VmTarget
from app.job.states import JobState


@dataclass(frozen=True)
class JobView:
    """What a step needs to know about the job (a snapshot of its row)."""

    id: str
    state: JobState
    item_id: str
    vault_id: str
    vm_name: str
    customization: dict[str, Any]
    plan: dict[str, Any]
    asr_job_name: str | None
    new_item_id: str | None
    plan_age_seconds: float | None = None  # set when the plan was resolved by this attempt's request
    # How long ago this attempt last sent switch protection (None: it never did).
    switch_sent_seconds_ago: float | None = None


@dataclass(frozen=True)
class SendGuard:
    """What keeps switch protection to one call per attempt when answers get lost.

    ``record_sending`` durably notes, before the call leaves, that a switch protection may be on its
    way (it raises when the job is no longer this worker's to submit); ``record_not_sent`` takes that
    back when Azure refused the call for certain (throttled). A call whose answer never came may still
    land in Azure for ``settle_seconds``; until then the step keeps looking for it instead of sending
    another.
    """

    settle_seconds: float
    record_sending: Callable[[], None]
    record_not_sent: Callable[[], None]


# A plan resolved this recently (when the API accepted the request) is only re-checked lightly.
FRESH_PLAN_SECONDS = 600.0


@dataclass(frozen=True)
class StepResult:
    """What a step found: a transition to make (or none), column updates, and when to look again."""

    to_state: JobState | None = None
    reason: str = ""
    updates: dict[str, Any] = field(default_factory=dict)
    poll: bool = True  # look again after the normal poll interval
    error_code: str | None = None
    error_message: str | None = None
    error_details: dict[str, Any] | None = None
    look_again_within: float | None = None  # at most this long before the next look (sooner if polls are)


def run_step(cloud: Cloud, job: JobView, guard: SendGuard) -> StepResult:
    """Advance ``job`` by one step (Cloud errors propagate: the runner turns them into delays)."""
    if job.state == JobState.ACCEPTED:
        return StepResult(to_state=JobState.VALIDATING, reason="picked up by a worker", poll=False)
    if job.state == JobState.VALIDATING:
        return _validate(cloud, job)
    if job.state == JobState.SUBMITTING:
        return _submit(cloud, job, guard)
    if job.state == JobState.REPROTECTING:
        return _watch_asr_job(cloud, job)
    if job.state == JobState.SYNCING:
        return _watch_resync(cloud, job)
    return StepResult(poll=False)


def target_of(job: JobView) -> VmTarget:
    """The VM target as the caller asked for it, rebuilt from the job row."""
    return VmTarget(item_id=job.item_id, **job.customization)


def _validate(cloud: Cloud, job: JobView) -> StepResult:
    try:
        if job.plan_age_seconds is not None and job.plan_age_seconds < FRESH_PLAN_SECONDS:
            recheck(cloud, target_of(job))
            return StepResult(
                to_state=JobState.SUBMITTING, reason="item state and target region re-checked", poll=False
            )
        plan = resolve_plan(cloud, target_of(job), patient=True)
    except VmCheckFailed as failed:
        return _failure(failed.problem.code, failed.problem.message, failed.problem.asr_error)
    return StepResult(
        to_state=JobState.SUBMITTING,
        reason="prerequisites re-checked and plan resolved again",
        updates={"plan": plan.model_dump(mode="json")},
        poll=False,
    )


def _submit(cloud: Cloud, job: JobView, guard: SendGuard) -> StepResult:
    ref = parse_item_id(job.item_id)
    item = cloud.get_item(ref)
    adopted = _adoptable(cloud, job, ref, item)
    if adopted is not None:
        return adopted
    unsettled = _unsettled_send(job, guard)
    if unsettled is not None:
        return unsettled
    if item is None:
        return _failure("vm_not_found", "The replicated item disappeared before reprotect could be submitted.")
    if "SwitchProtection" not in item.allowed_operations:
        return _failure(
            "reprotect_not_allowed",
            f"Site Recovery no longer allows reprotect on this VM (it is '{item.protection_state}').",
        )
    guard.record_sending()
    try:
        job_name = cloud.switch_protection(spec_from_plan(ref, Plan.model_validate(job.plan)))
    except CloudThrottled:
        guard.record_not_sent()  # a 429 is never processed: sending again later doubles nothing
        raise
    except CloudPermanent as exc:
        # 409: an operation already runs on the item, maybe our own earlier POST whose answer was lost.
        again = cloud.get_item(ref) if exc.status == 409 else None
        adopted = _adoptable(cloud, job, ref, again) if again is not None else None
        if adopted is None:
            raise
        return adopted
    return StepResult(
        to_state=JobState.REPROTECTING,
        reason=f"switch protection submitted (ASR job {job_name})",
        updates=_asr_job_updates(ref, job_name),
    )


def _unsettled_send(job: JobView, guard: SendGuard) -> StepResult | None:
    """An earlier call of this attempt that may still land: wait and look again rather than resend.

    Its answer never came (a timeout, a dropped connection, a worker killed mid-call) and the item shows
    no reprotect yet; but Azure may still be processing it, and a read can overtake it. Only once
    ``settle_seconds`` have passed since it was sent is it presumed lost.
    """
    if job.switch_sent_seconds_ago is None:
        return None
    remaining = guard.settle_seconds - job.switch_sent_seconds_ago
    if remaining <= 0:
        return None
    return StepResult(
        reason="an earlier switch protection got no answer and may still land in Azure: waiting for it",
        look_again_within=remaining,
    )


def _adoptable(cloud: Cloud, job: JobView, ref: ItemRef, item: ReplicatedItem | None) -> StepResult | None:
    """A reprotect that reached Azure before a crash: adopt it instead of submitting a second one."""
    if item is not None and item.current_job_id and is_reprotect_scenario(item.current_scenario):
        name = item.current_job_id.rstrip("/").rsplit("/", 1)[-1]
        return StepResult(
            to_state=JobState.REPROTECTING,
            reason=f"adopted the ASR job already running on the item ({name})",
            updates=_asr_job_updates(ref, name),
        )
    if item is not None:
        return None
    moved = cloud.find_item(ref.vault, ref.name)
    if moved is None or same_id(moved.ref.id, ref.id):
        return None
    if moved.current_job_id and is_reprotect_scenario(moved.current_scenario):
        name = moved.current_job_id.rstrip("/").rsplit("/", 1)[-1]
        return StepResult(
            to_state=JobState.REPROTECTING,
            reason=f"adopted the ASR job already running on the moved item ({name})",
            updates={**_asr_job_updates(ref, name), "new_item_id": moved.ref.id},
        )
    updates: dict[str, Any] = {"new_item_id": moved.ref.id}
    earlier = _latest_reprotect_job(cloud, ref, moved.vm_name)
    if earlier is not None:
        updates.update(_asr_job_updates(ref, earlier.name))
    return StepResult(
        to_state=JobState.REPROTECTING,
        reason="the item already moved to the other region: reprotect was submitted before",
        updates=updates,
        poll=False,
    )


def _latest_reprotect_job(cloud: Cloud, ref: ItemRef, vm_name: str) -> AsrJob | None:
    """The newest reprotect job of this VM in the vault, to keep mirroring its tasks after adopting it."""
    names = {vm_name.lower(), ref.name.lower()}
    return next(
        (
            j
            for j in cloud.list_jobs(ref.vault)
            if is_reprotect_scenario(j.scenario_name) and j.target_object_name.lower() in names
        ),
        None,
    )


def is_reprotect_scenario(scenario: str) -> bool:
    """Whether an item's running operation is a reprotect (switch protection / reverse replication)."""
    name = scenario.lower().replace(" ", "")
    return "switch" in name or "reprotect" in name or "reversereplicat" in name


def _asr_job_updates(ref: ItemRef, job_name: str) -> dict[str, Any]:
    return {"asr_job_name": job_name, "asr_job_id": f"{ref.vault.id}/replicationJobs/{job_name}"}


def spec_from_plan(ref: ItemRef, plan: Plan) -> SwitchProtectionSpec:
    """The switch-protection input for a resolved plan."""
    cache_id = str(plan.cache_storage_account.id)
    target_rg = str(plan.target_resource_group.id)
    disks = []
    for disk in plan.disks:
        entry = {
            "diskId": disk.disk_id,
            "primaryStagingAzureStorageAccountId": cache_id,
            "recoveryResourceGroupId": target_rg,
        }
        if disk.replica_disk_type:
            entry["recoveryReplicaDiskAccountType"] = disk.replica_disk_type
        if disk.target_disk_type:
            entry["recoveryTargetDiskAccountType"] = disk.target_disk_type
        disks.append(entry)
    return SwitchProtectionSpec(
        item=ref,
        recovery_container_id=plan.recovery_container_id,
        policy_id=plan.policy_id,
        recovery_resource_group_id=target_rg,
        cache_storage_account_id=cache_id,
        disks=tuple(disks),
        availability_set_id=plan.availability_set.id if plan.availability_set else None,
        proximity_placement_group_id=plan.proximity_placement_group.id if plan.proximity_placement_group else None,
    )


def _watch_asr_job(cloud: Cloud, job: JobView) -> StepResult:
    if not job.asr_job_name:  # the item had already moved when we adopted it: nothing left to watch
        return StepResult(to_state=JobState.SYNCING, reason="ASR job already finished", poll=False)
    vault = parse_vault_id(job.vault_id)
    asr_job = cloud.get_job(vault, job.asr_job_name)
    if asr_job is None:
        return _failure("asr_job_not_found", f"Azure no longer knows the ASR job {job.asr_job_name}.")
    mirrored = _mirror(asr_job)
    state = asr_job.state.lower()
    if state == "succeeded":
        new_id = asr_job.new_item_id or job.new_item_id
        return StepResult(
            to_state=JobState.SYNCING,
            reason="ASR reprotect job succeeded; watching the resynchronisation",
            updates={**mirrored, "new_item_id": new_id},
            poll=False,
        )
    if state == "failed":
        code, message = asr_error_of(asr_job)
        return replace(
            _failure(code, message, {"asr_errors": list(asr_job.errors)}),
            updates=mirrored,
        )
    if state == "cancelled":
        return StepResult(to_state=JobState.CANCELLED, reason="the ASR job was cancelled", updates=mirrored)
    return StepResult(updates=mirrored)


def _mirror(asr_job: AsrJob) -> dict[str, Any]:
    tasks = [
        {
            "task_id": t.task_id,
            "name": t.name,
            "state": t.state,
            "state_description": t.state_description,
            "start_time": t.start_time,
            "end_time": t.end_time,
        }
        for t in asr_job.tasks
    ]
    updates: dict[str, Any] = {"asr_tasks": tasks, "asr_job_state": asr_job.state}
    if asr_job.new_item_id:
        updates["new_item_id"] = asr_job.new_item_id
    return updates


def asr_error_of(asr_job: AsrJob) -> tuple[str, str]:
    """ASR's own error code and message for a failed job."""
    for error in asr_job.errors:
        service = error.get("serviceErrorDetails") or {}
        code = service.get("code") or error.get("errorCode")
        if code:
            message = service.get("message") or error.get("errorMessage") or "The ASR job failed."
            action = service.get("recommendedAction")
            return str(code), f"{message} {action}".strip() if action else str(message)
    return "asr_job_failed", f"The ASR reprotect job failed ({asr_job.state_description or 'no details'})."


def _watch_resync(cloud: Cloud, job: JobView) -> StepResult:
    item_id = job.new_item_id
    item = cloud.get_item(parse_item_id(item_id)) if item_id else None
    if item is None:
        item = cloud.find_item(parse_vault_id(job.vault_id), job.vm_name)
    if item is None:
        return StepResult(reason="the reprotected item is not visible yet")
    updates: dict[str, Any] = {"new_item_id": item.ref.id}
    if item.monitoring_percent is not None:
        updates["resync_percent"] = item.monitoring_percent
    if item.protection_state.lower() == "protected":
        updates["resync_percent"] = 100
        return StepResult(
            to_state=JobState.PROTECTED,
            reason=f"replication is protected ({item.replication_health or 'health unknown'})",
            updates=updates,
        )
    return StepResult(updates=updates)


def _failure(code: str, message: str, details: dict[str, Any] | None = None) -> StepResult:
    return StepResult(
        to_state=JobState.FAILED, reason=message, error_code=code, error_message=message, error_details=details
    )


def deadline_failure(deadline: datetime) -> StepResult:
    """The job ran out of time."""
    return _failure(
        "deadline_exceeded",
        f"The reprotect did not finish by its deadline ({deadline.isoformat()}). Check the VM in the vault; "
        "retry the job to keep watching it.",
    )
