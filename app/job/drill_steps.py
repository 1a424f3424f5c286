"""The steps of the drill kinds (test failover, its cleanup): the same states and rules as reprotect's.

A kind supplies its operation (:class:`DrillOperation`): the ``allowedOperations`` entry it needs, the SDK
call that starts it, the item's scenario while it runs, and the item's ``testFailoverState`` when it is done.
The states are reprotect's: ``submitting`` sends once (noted durably first, a lost answer adopted from the
item's ``currentScenario`` or the vault's jobs, never sent twice), ``reprotecting`` watches the ASR job
(running), ``syncing`` waits for the item to show the result (settling) and ``protected`` means done.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass, replace
from typing import Any

from app.cloud.ids import ItemRef, name_of, parse_item_id, parse_vault_id
from app.cloud.snapshots import listing
from app.cloud.types import AsrJob, Cloud, ReplicatedItem, TestFailoverSpec
from app.errors import CloudPermanent, CloudThrottled
from app.job.kinds import JobKind
from app.job.states import JobState
from app.job.steps import JobView, Learned, SendGuard, StepResult, asr_error_of

LATEST = "latest"
LATEST_APP_CONSISTENT = "latest_app_consistent"


@dataclass(frozen=True)
class DrillOperation:
    """What one drill kind asks of Site Recovery and how it knows it is done."""

    operation: str  # the allowedOperations entry (and the ASR job's scenarioName)
    label: str
    refusal_code: str  # the VM's problem code when allowedOperations lack the operation
    done_state: str  # the item's testFailoverState once the operation has taken effect
    send: Callable[[Cloud, ReplicatedItem, dict[str, Any]], str]


def _send_test_failover(cloud: Cloud, item: ReplicatedItem, options: dict[str, Any]) -> str:
    ref = item.ref
    point = str(options.get("recovery_point") or LATEST)
    point_id: str | None = None if point == LATEST else point
    if point == LATEST_APP_CONSISTENT:
        points = [p for p in cloud.list_recovery_points(ref) if p.type.lower() == "appconsistent"]
        if not points:
            raise CloudPermanent(
                "Site Recovery lists no app-consistent recovery point for this VM.", code="no_app_consistent_point"
            )
        point_id = points[0].id
    return cloud.test_failover(
        TestFailoverSpec(item=ref, network_id=str(options["test_network_id"]), recovery_point_id=point_id)
    )


def _send_cleanup(cloud: Cloud, item: ReplicatedItem, options: dict[str, Any]) -> str:
    return cloud.test_failover_cleanup(item.ref, str(options.get("comments") or ""))


OPERATIONS: dict[JobKind, DrillOperation] = {
    JobKind.DRILL: DrillOperation(
        "TestFailover", "test failover", "test_failover_not_allowed", "WaitingForCompletion", _send_test_failover
    ),
    JobKind.DRILL_CLEANUP: DrillOperation(
        "TestFailoverCleanup", "test failover cleanup", "test_failover_cleanup_not_allowed", "None", _send_cleanup
    ),
}


def operation_of(kind: str) -> DrillOperation:
    """The operation of a drill kind (``KeyError`` for reprotect, which has its own steps)."""
    return OPERATIONS[JobKind(kind)]


def not_allowed(op: DrillOperation, item: ReplicatedItem) -> tuple[str, str] | None:
    """The refusal (code, message in Azure's words) when the item's ``allowedOperations`` lack the operation."""
    if op.operation in item.allowed_operations:
        return None
    allowed = ", ".join(item.allowed_operations) or "none"
    return op.refusal_code, (
        f"Site Recovery does not allow {op.operation} on this VM now: its allowedOperations are [{allowed}] "
        f"(protectionState '{item.protection_state}': {item.protection_state_description or 'no description'}; "
        f"testFailoverState '{item.test_failover_state}')."
    )


def run_drill_step(cloud: Cloud, job: JobView, guard: SendGuard) -> StepResult:
    """Advance a drill or drill-cleanup job by one step."""
    op = operation_of(job.kind)
    if job.state == JobState.ACCEPTED:
        return StepResult(to_state=JobState.VALIDATING, reason="picked up by a worker", poll=False)
    if job.state == JobState.VALIDATING:
        return _validate(cloud, job, op)
    if job.state == JobState.SUBMITTING:
        return _submit(cloud, job, guard, op)
    if job.state == JobState.REPROTECTING:
        return _watch(cloud, job, op)
    if job.state == JobState.SYNCING:
        return _settle(cloud, job, op)
    return StepResult(poll=False)


def _validate(cloud: Cloud, job: JobView, op: DrillOperation) -> StepResult:
    item = cloud.get_item(parse_item_id(job.item_id))
    if item is None:
        return _failure("vm_not_found", "Site Recovery no longer lists a replicated item for this VM.")
    if _running(item, op) is None:  # our own operation already runs (a retry after a lost answer): adopt it there
        refused = not_allowed(op, item)
        if refused is not None:
            return _failure(*refused)
    return StepResult(to_state=JobState.SUBMITTING, reason=f"{op.operation} is allowed on the item", poll=False)


def _submit(cloud: Cloud, job: JobView, guard: SendGuard, op: DrillOperation) -> StepResult:
    ref = parse_item_id(job.item_id)
    item = cloud.get_item(ref)
    adopted = _adoptable(cloud, job, op, item)
    if adopted is not None:
        return adopted
    if job.switch_sent_seconds_ago is not None and job.switch_sent_seconds_ago < guard.settle_seconds:
        return StepResult(
            reason=f"an earlier {op.label} got no answer and may still land in Azure: waiting for it",
            look_again_within=guard.settle_seconds - job.switch_sent_seconds_ago,
        )
    if item is None:
        return _failure("vm_not_found", f"The replicated item disappeared before the {op.label} was submitted.")
    refused = not_allowed(op, item)
    if refused is not None:
        return _failure(*refused)
    guard.record_sending()
    try:
        job_name = op.send(cloud, item, job.customization)
    except CloudThrottled:
        guard.record_not_sent()  # a 429 is never processed: sending again later doubles nothing
        raise
    except CloudPermanent as exc:
        again = cloud.get_item(ref) if exc.status == 409 else None  # maybe our own earlier call, answer lost
        adopted = _adoptable(cloud, job, op, again) if again is not None else None
        if adopted is None:
            raise
        return adopted
    return StepResult(
        to_state=JobState.REPROTECTING,
        reason=f"{op.label} submitted (ASR job {job_name})",
        learned=_job_learned(ref, job_name),
    )


def _running(item: ReplicatedItem, op: DrillOperation) -> str | None:
    """The name of the ASR job of this operation running on the item, from its ``currentScenario``."""
    if item.current_job_id and item.current_scenario.lower() == op.operation.lower():
        return name_of(item.current_job_id)
    return None


def _adoptable(cloud: Cloud, job: JobView, op: DrillOperation, item: ReplicatedItem | None) -> StepResult | None:
    """This attempt's operation already reached Azure (its answer was lost): adopt its ASR job, never resend.

    While the operation runs the item names it in ``currentScenario`` (a finished test failover keeps it until
    the cleanup); a cleanup that already finished is found, once sent, by the item's state and the vault's jobs.
    """
    if item is None:
        return None
    ref = parse_item_id(job.item_id)
    running = _running(item, op)
    previous = job.switch_sent_seconds_ago is None and running == job.asr_job_name  # a retry's failed job
    if running is not None and not previous:
        return StepResult(
            to_state=JobState.REPROTECTING,
            reason=f"adopted the ASR job already running on the item ({running})",
            learned=_job_learned(ref, running),
        )
    if job.switch_sent_seconds_ago is None or item.test_failover_state != op.done_state:
        return None
    earlier = _latest_job(cloud, ref, item, op)
    learned = _job_learned(ref, earlier.name) if earlier is not None else Learned()
    return StepResult(
        to_state=JobState.REPROTECTING if earlier is not None else JobState.SYNCING,
        reason=f"adopted the {op.label} sent before, which already took effect",
        learned=learned,
        poll=False,
    )


def _latest_job(cloud: Cloud, ref: ItemRef, item: ReplicatedItem, op: DrillOperation) -> AsrJob | None:
    names = {item.vm_name.lower(), ref.name.lower()}
    return next(
        (
            j
            for j in cloud.list_jobs(ref.vault)
            if j.scenario_name.lower() == op.operation.lower() and j.target_object_name.lower() in names
        ),
        None,
    )


def _watch(cloud: Cloud, job: JobView, op: DrillOperation) -> StepResult:
    if not job.asr_job_name:
        return StepResult(to_state=JobState.SYNCING, reason="ASR job already finished", poll=False)
    asr_job = listing(cloud).get_job(parse_vault_id(job.vault_id), job.asr_job_name)
    if asr_job is None:
        return _failure("asr_job_not_found", f"Azure no longer knows the ASR job {job.asr_job_name}.")
    mirrored = Learned(asr_tasks=asr_job.tasks, asr_job_state=asr_job.state)
    state = asr_job.state.lower()
    if state == "succeeded":
        return StepResult(
            to_state=JobState.SYNCING,
            reason=f"ASR {op.label} job succeeded; waiting for the item to show it",
            learned=mirrored,
            poll=False,
        )
    if state == "failed":
        code, message = asr_error_of(asr_job)
        failed = _failure(code, message, {"asr_errors": [asdict(e) for e in asr_job.errors]})
        return replace(failed, learned=mirrored)
    if state == "cancelled":
        return StepResult(to_state=JobState.CANCELLED, reason="the ASR job was cancelled", learned=mirrored)
    return StepResult(learned=mirrored)


def _settle(cloud: Cloud, job: JobView, op: DrillOperation) -> StepResult:
    item = cloud.get_item(parse_item_id(job.item_id))
    if item is None:
        return StepResult(reason="the item is not visible")
    # A finished test failover keeps naming itself in currentScenario; a cleanup's is gone once it is done.
    settled = op.done_state != "None" or _running(item, op) is None
    if item.test_failover_state == op.done_state and settled:
        return StepResult(
            to_state=JobState.PROTECTED,
            reason=f"{op.label} done (testFailoverState {item.test_failover_state})",
        )
    return StepResult(reason=f"testFailoverState is {item.test_failover_state}, waiting for {op.done_state}")


def _job_learned(ref: ItemRef, job_name: str) -> Learned:
    return Learned(asr_job_name=job_name, asr_job_id=ref.vault.job_id(job_name))


def _failure(code: str, message: str, details: dict[str, Any] | None = None) -> StepResult:
    return StepResult(
        to_state=JobState.FAILED, reason=message, error_code=code, error_message=message, error_details=details
    )
