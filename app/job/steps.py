"""One step of a job per state: ask Azure, decide, and return what to record. No database here.

A step never waits for Azure: it reads or submits once and says when the job is next due.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, replace
from datetime import UTC, datetime, timedelta
from typing import Any

from app.cloud.ids import ItemRef, VaultRef, name_of, parse_item_id, parse_vault_id, same_id
from app.cloud.snapshots import listing
from app.cloud.types import AsrJob, AsrTask, Cloud, DiskKeys, DiskReplication, ReplicatedItem, SwitchProtectionSpec
from app.errors import CloudPermanent, CloudThrottled
from app.job.cache_accounts import LOOK_AGAIN_SECONDS, ClaimStore, LocalClaims, ensure
from app.job.plan import PlannedDisk, PlannedResource, ReprotectPlan
from app.job.prerequisites import ITEM_STATE_CODES, VmCheckFailed, recheck, resolve_plan
from app.job.schemas import VmTarget
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
    stored_plan: dict[str, Any] | None  # as the row keeps it; read inside the step, where a bad one fails the job
    asr_job_name: str | None
    new_item_id: str | None
    plan_age_seconds: float | None = None  # set when the plan was resolved by this attempt's request
    # How long ago this attempt last sent switch protection (None: it never did).
    switch_sent_seconds_ago: float | None = None
    kind: str = "reprotect"  # app.job.kinds: the runner gives the item operations to app.job.item_steps


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
class Learned:
    """What a step learned that the job keeps; None leaves the job's value as it is."""

    plan: ReprotectPlan | None = None
    asr_job_name: str | None = None
    asr_job_id: str | None = None
    asr_job_state: str | None = None
    asr_tasks: tuple[AsrTask, ...] | None = None
    new_item_id: str | None = None
    resync_percent: int | None = None

    def __or__(self, other: Learned) -> Learned:
        """Both, ``other`` winning where both know something."""
        known = {k: v for k, v in asdict(other).items() if v is not None}
        if other.plan is not None:
            known["plan"] = other.plan
        if other.asr_tasks is not None:
            known["asr_tasks"] = other.asr_tasks
        return replace(self, **known)


@dataclass(frozen=True)
class StepResult:
    """What a step found: a transition to make (or none), what the job learned, and when to look again."""

    to_state: JobState | None = None
    reason: str = ""
    learned: Learned = field(default_factory=Learned)
    poll: bool = True  # look again after the normal poll interval
    error_code: str | None = None
    error_message: str | None = None
    error_details: dict[str, Any] | None = None
    look_again_within: float | None = None  # at most this long before the next look (sooner if polls are)


def run_step(cloud: Cloud, job: JobView, guard: SendGuard, claims: ClaimStore | None = None) -> StepResult:
    """Advance ``job`` by one step (Cloud errors propagate: the runner turns them into delays).

    ``claims`` decides which job creates a new cache storage account many jobs need (the service passes
    the database's; without it this job is taken to be the only one needing it).
    """
    if job.state == JobState.ACCEPTED:
        return StepResult(to_state=JobState.VALIDATING, reason="picked up by a worker", poll=False)
    if job.state == JobState.VALIDATING:
        return _validate(cloud, job)
    if job.state == JobState.SUBMITTING:
        return _submit(cloud, job, guard, claims or LocalClaims())
    if job.state == JobState.REPROTECTING:
        return _watch_asr_job(cloud, job, guard.settle_seconds)
    if job.state == JobState.SYNCING:
        return _watch_resync(cloud, job)
    return StepResult(poll=False)


def target_of(job: JobView) -> VmTarget:
    """The VM target as the caller asked for it, rebuilt from the job row."""
    return VmTarget(item_id=job.item_id, **job.customization)


def _validate(cloud: Cloud, job: JobView) -> StepResult:
    try:
        if job.plan_age_seconds is not None and job.plan_age_seconds < FRESH_PLAN_SECONDS:
            # The light re-check reads the shared lists (the item is read itself just before sending); a stale
            # plan is resolved again against Azure itself, as a new request would be checked.
            _recheck_confirmed(cloud, target_of(job))
            return StepResult(
                to_state=JobState.SUBMITTING, reason="item state and target region re-checked", poll=False
            )
        plan = resolve_plan(cloud, target_of(job), patient=True)
    except VmCheckFailed as failed:
        return _failure(failed.problem.code, failed.problem.message, failed.problem.asr_error)
    return StepResult(
        to_state=JobState.SUBMITTING,
        reason="prerequisites re-checked and plan resolved again",
        learned=Learned(plan=plan),
        poll=False,
    )


def _recheck_confirmed(cloud: Cloud, target: VmTarget) -> None:
    """The light re-check from the shared lists; a refusal judged from the item's state there is confirmed with
    the item itself (the list may predate an operation of ours that just ended, e.g. the commit before it)."""
    lists = listing(cloud)
    try:
        recheck(lists, target)
    except VmCheckFailed as failed:
        if failed.problem.code not in ITEM_STATE_CODES or lists is cloud:
            raise
        recheck(cloud, target)


def _submit(cloud: Cloud, job: JobView, guard: SendGuard, claims: ClaimStore) -> StepResult:
    if job.asr_job_name:  # a retry after Azure's reprotect job failed: see _resubmit_after_failure
        return _resubmit_after_failure(cloud, job, guard, claims)
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
    made = _with_real_cache_account(cloud, job, claims, _plan_of(job))
    if isinstance(made, StepResult):
        return made
    plan, learned_plan = made
    guard.record_sending()
    try:
        job_name = cloud.switch_protection(spec_from_plan(ref, plan))
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
        learned=_asr_job_learned(ref, job_name) | learned_plan,
    )


def _with_real_cache_account(
    cloud: Cloud, job: JobView, claims: ClaimStore, plan: ReprotectPlan
) -> tuple[ReprotectPlan, Learned] | StepResult:
    """The plan with its cache account made real (Site Recovery needs it to exist: created once, before
    sending), and what the job learns; or the step's answer while it is being created or when it cannot be."""
    cache = plan.cache_storage_account
    if cache.status != "new":
        return plan, Learned()
    ensured = ensure(
        cloud,
        claims,
        account_id=str(cache.id),
        location=plan.direction.source_location,
        caller_named=bool(target_of(job).cache_storage_account_id),
        owner=job.id,
    )
    if ensured.outcome == "wait":
        return StepResult(reason=ensured.reason, look_again_within=LOOK_AGAIN_SECONDS)
    if ensured.outcome == "failed":
        return _failure(ensured.code, ensured.reason)
    ready = PlannedResource(id=ensured.account_id, name=name_of(ensured.account_id), status="existing")
    plan = replace(plan, cache_storage_account=ready)
    return plan, Learned(plan=plan)  # the job shows the account it got (its name may differ from the plan's)


def _resubmit_after_failure(cloud: Cloud, job: JobView, guard: SendGuard, claims: ClaimStore) -> StepResult:
    """Retry an attempt whose ASR job failed, by the means Azure offers: Restart of that job where its
    ``allowedActions`` has it, else a new switch protection where the item lives now; never both, never
    twice for one failure. The item is found by name (it may have moved under the other region's container
    with a new id, or been put back); a Restart or switch protection sent before a crash is recognised by
    the job running again, and one that ran and failed again ends this attempt instead of being resent.
    """
    vault = parse_vault_id(job.vault_id)
    failed_name = str(job.asr_job_name)
    item = cloud.find_item(vault, _item_name(job))
    where = Learned(new_item_id=item.ref.id) if item is not None else Learned()
    if item is not None and item.current_job_id and is_reprotect_scenario(item.current_scenario):
        name = name_of(item.current_job_id)
        return StepResult(
            to_state=JobState.REPROTECTING,
            reason=f"the ASR job {name} already runs on the item (sent by this retry before)",
            learned=_asr_job_learned(item.ref, name) | where,
        )
    failed = cloud.get_job(vault, failed_name)
    if failed is not None and failed.state.lower() not in ("failed", "cancelled"):
        return StepResult(
            to_state=JobState.REPROTECTING,
            reason=f"the ASR job {failed_name} runs again (restarted by this retry before)",
            learned=Learned(asr_job_name=failed_name, asr_job_id=failed.id) | where,
            poll=False,
        )
    if job.switch_sent_seconds_ago is not None:  # this attempt already sent its one Restart or switch
        unsettled = _unsettled_send(job, guard)
        if unsettled is not None:
            return unsettled
        code, message = asr_error_of(failed) if failed is not None else ("asr_job_not_found", "")
        return replace(
            _failure(
                code,
                f"{message} The retry's restart or switch protection did not succeed; retry the job to try "
                "once more.".strip(),
            ),
            learned=where,
        )
    if item is None:
        return _failure("vm_not_found", "Site Recovery no longer lists a replicated item for this VM.")
    if failed is not None and "Restart" in failed.allowed_actions:

        def restart() -> str:
            cloud.restart_job(vault, failed_name)
            return failed_name

        return _send_retry(
            guard,
            restart,
            reason=f"restarted the failed ASR job {failed_name}",
            ref=item.ref,
            where=where,
        )
    if "SwitchProtection" in item.allowed_operations:
        made = _with_real_cache_account(cloud, job, claims, _plan_of(job))
        if isinstance(made, StepResult):
            return replace(made, learned=made.learned | where)
        plan, learned_plan = made
        return _send_retry(
            guard,
            lambda: cloud.switch_protection(spec_from_plan(item.ref, plan)),
            reason="switch protection submitted again where the item is now",
            ref=item.ref,
            where=where | learned_plan,
        )
    allowed = ", ".join(item.allowed_operations) or "nothing"
    return replace(
        _failure(
            "reprotect_retry_not_possible",
            f"Site Recovery offers no way to retry this reprotect: its ASR job {failed_name} does not allow "
            f"Restart and the replicated item (now {item.ref.id}) allows only {allowed}. Disable replication "
            "for the VM, enable it again, then submit a new reprotect.",
        ),
        learned=where,
    )


def _send_retry(guard: SendGuard, send: Callable[[], str], *, reason: str, ref: ItemRef, where: Learned) -> StepResult:
    """Send the retry's one call, noted durably first (a throttled call was not processed: take it back)."""
    guard.record_sending()
    try:
        job_name = send()
    except CloudThrottled:
        guard.record_not_sent()
        raise
    return StepResult(
        to_state=JobState.REPROTECTING,
        reason=f"{reason} (ASR job {job_name})",
        learned=_asr_job_learned(ref, job_name) | where,
    )


def _plan_of(job: JobView) -> ReprotectPlan:
    if not job.stored_plan:  # every accepted job is stored with its plan; this is a broken row
        raise ValueError(f"job {job.id} has no plan to submit")
    return ReprotectPlan.from_json(job.stored_plan)


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
        name = name_of(item.current_job_id)
        return StepResult(
            to_state=JobState.REPROTECTING,
            reason=f"adopted the ASR job already running on the item ({name})",
            learned=_asr_job_learned(ref, name),
        )
    if item is not None:
        return None
    moved = cloud.find_item(ref.vault, ref.name)
    if moved is None or same_id(moved.ref.id, ref.id):
        return None
    if moved.current_job_id and is_reprotect_scenario(moved.current_scenario):
        name = name_of(moved.current_job_id)
        return StepResult(
            to_state=JobState.REPROTECTING,
            reason=f"adopted the ASR job already running on the moved item ({name})",
            learned=_asr_job_learned(ref, name) | Learned(new_item_id=moved.ref.id),
        )
    learned = Learned(new_item_id=moved.ref.id)
    earlier = _latest_reprotect_job(cloud, ref, moved.vm_name)
    if earlier is not None:
        learned = _asr_job_learned(ref, earlier.name) | learned
    return StepResult(
        to_state=JobState.REPROTECTING,
        reason="the item already moved to the other region: reprotect was submitted before",
        learned=learned,
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


def _asr_job_learned(ref: ItemRef, job_name: str) -> Learned:
    return Learned(asr_job_name=job_name, asr_job_id=ref.vault.job_id(job_name))


def spec_from_plan(ref: ItemRef, plan: ReprotectPlan) -> SwitchProtectionSpec:
    """The switch-protection input for a resolved plan."""
    cache_id = str(plan.cache_storage_account.id)
    target_rg = str(plan.target_resource_group.id)
    disks = [
        DiskReplication(
            disk_id=disk.disk_id,
            staging_account_id=cache_id,
            recovery_resource_group_id=target_rg,
            replica_disk_type=disk.replica_disk_type,
            target_disk_type=disk.target_disk_type,
            disk_encryption_set_id=disk.disk_encryption_set_id,
            keys=_keys_of(disk),
        )
        for disk in plan.disks
    ]
    # The VM-level diskEncryptionInfo is its OS disk's (PowerShell's -DiskEncryptionSecretUrl & co.).
    os_first = sorted(zip(plan.disks, disks, strict=True), key=lambda pair: pair[0].disk_type != "OperatingSystem")
    vm_keys = next((sent.keys for _, sent in os_first if sent.keys), None)
    return SwitchProtectionSpec(
        item=ref,
        recovery_container_id=plan.recovery_container_id,
        policy_id=plan.policy_id,
        recovery_resource_group_id=target_rg,
        cache_storage_account_id=cache_id,
        disks=tuple(disks),
        availability_set_id=plan.availability_set.id if plan.availability_set else None,
        proximity_placement_group_id=plan.proximity_placement_group.id if plan.proximity_placement_group else None,
        scale_set_id=plan.scale_set.id if plan.scale_set else None,
        disk_encryption=vm_keys,
    )


def _keys_of(disk: PlannedDisk) -> DiskKeys | None:
    if not disk.ade_secret_url or not disk.ade_secret_vault_id:
        return None
    return DiskKeys(disk.ade_secret_url, disk.ade_secret_vault_id, disk.ade_key_url, disk.ade_key_vault_id)


def _watch_asr_job(cloud: Cloud, job: JobView, settle_seconds: float) -> StepResult:
    if not job.asr_job_name:  # the item had already moved when we adopted it: nothing left to watch
        return StepResult(to_state=JobState.SYNCING, reason="ASR job already finished", poll=False)
    vault = parse_vault_id(job.vault_id)
    # The vault's recent ASR jobs, one paged list shared by every job of the vault (read per job if absent).
    asr_job = listing(cloud).get_job(vault, job.asr_job_name)
    if asr_job is None:
        return _failure("asr_job_not_found", f"Azure no longer knows the ASR job {job.asr_job_name}.")
    mirrored = _mirror(asr_job)
    state = asr_job.state.lower()
    if state == "succeeded":
        return StepResult(
            to_state=JobState.SYNCING,
            reason="ASR reprotect job succeeded; watching the resynchronisation",
            learned=mirrored | Learned(new_item_id=asr_job.new_item_id or job.new_item_id),
            poll=False,
        )
    if state == "failed":
        rerun = _rerun_after_restart(cloud, vault, job, asr_job, settle_seconds)
        if rerun is not None:
            return replace(rerun, learned=mirrored | rerun.learned)
        code, message = asr_error_of(asr_job)
        details = {"asr_errors": [asdict(error) for error in asr_job.errors]}
        return replace(_failure(code, message, details), learned=mirrored | _where_now(cloud, vault, job))
    if state == "cancelled":
        learned = mirrored | _where_now(cloud, vault, job)
        return StepResult(to_state=JobState.CANCELLED, reason="the ASR job was cancelled", learned=learned)
    return StepResult(learned=mirrored)


def _rerun_after_restart(
    cloud: Cloud, vault: VaultRef, job: JobView, failed: AsrJob, settle_seconds: float
) -> StepResult | None:
    """A Failed answer that does not end the attempt: the reprotect runs again under another ASR job (Azure's
    ``ReplicationJobs_Restart`` example answers with a separate job), or it is the failure that our Restart,
    sent moments ago, has not replaced yet (the job ended before the Restart was sent)."""
    item = cloud.find_item(vault, _item_name(job))
    if item is not None and item.current_job_id and is_reprotect_scenario(item.current_scenario):
        running = name_of(item.current_job_id)
        if running.lower() != str(job.asr_job_name).lower():
            return StepResult(
                reason=f"the reprotect runs again as ASR job {running}",
                learned=_asr_job_learned(item.ref, running) | Learned(new_item_id=item.ref.id),
            )
    sent_ago = job.switch_sent_seconds_ago
    ended = asr_time(failed.end_time)
    if sent_ago is None or ended is None or sent_ago >= settle_seconds:
        return None
    if ended < datetime.now(UTC) - timedelta(seconds=sent_ago):
        return StepResult(
            reason=f"the ASR job {failed.name} still shows the failure from before its restart",
            look_again_within=min(5.0, settle_seconds),
        )
    return None


def asr_time(value: str | None) -> datetime | None:
    """An ASR timestamp (ISO 8601, up to 7 fractional digits, ``Z`` or an offset) as an aware datetime."""
    if not value:
        return None
    trimmed = re.sub(r"(\.\d{6})\d+", r"\1", value.replace("Z", "+00:00"))
    try:
        parsed = datetime.fromisoformat(trimmed)
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def _where_now(cloud: Cloud, vault: VaultRef, job: JobView) -> Learned:
    """Where the item is after its reprotect job ended without success: found by name, as a failed or
    cancelled job may leave it under either container (with its old id or the new one)."""
    item = cloud.find_item(vault, _item_name(job))
    return Learned(new_item_id=item.ref.id) if item is not None else Learned()


def _item_name(job: JobView) -> str:
    """The item's own name: it stays the same when the item moves to the other container (its id does not),
    and unlike the VM's name it is unique in the vault."""
    return parse_item_id(job.item_id).name


def _mirror(asr_job: AsrJob) -> Learned:
    return Learned(asr_tasks=asr_job.tasks, asr_job_state=asr_job.state, new_item_id=asr_job.new_item_id)


def asr_error_of(asr_job: AsrJob) -> tuple[str, str]:
    """ASR's own error code and message for a failed job (with the provider's code and the advice)."""
    for error in asr_job.errors:
        if error.code:
            message = error.message or "The ASR job failed."
            if error.provider_code is not None and str(error.provider_code) != error.code:
                said = f": {error.provider_message}" if error.provider_message else ""
                message = f"{message} (provider error {error.provider_code}{said})"
            action = error.recommended_action
            return error.code, f"{message} {action}".strip() if action else message
    return "asr_job_failed", f"The ASR reprotect job failed ({asr_job.state_description or 'no details'})."


def _watch_resync(cloud: Cloud, job: JobView) -> StepResult:
    lists = listing(cloud)
    if lists is not cloud:  # the vault's items, one paged list shared by every job; the item by its own name
        item = lists.find_item(parse_vault_id(job.vault_id), _item_name(job))
    else:
        item_id = job.new_item_id
        item = cloud.get_item(parse_item_id(item_id)) if item_id else None
        if item is None:
            item = cloud.find_item(parse_vault_id(job.vault_id), _item_name(job))
    if item is None:
        return StepResult(reason="the reprotected item is not visible yet")
    learned = Learned(new_item_id=item.ref.id, resync_percent=item.monitoring_percent)
    if item.protection_state.lower() == "protected":
        return StepResult(
            to_state=JobState.PROTECTED,
            reason=f"replication is protected ({item.replication_health or 'health unknown'})",
            learned=learned | Learned(resync_percent=100),
        )
    return StepResult(learned=learned)


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
