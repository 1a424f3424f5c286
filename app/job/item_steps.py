"""The steps of the item-operation kinds (test failover, its cleanup, failover, commit): reprotect's states
and rules.

A kind supplies its operation (``app.job.item_operations``): the ``allowedOperations`` entry it needs, the SDK
call that starts it, the item's scenario while it runs, and the item's state once it is done. The states are
reprotect's: ``submitting`` sends once (noted durably first, a lost answer adopted from the
item's ``currentScenario`` or the vault's jobs, never sent twice), ``reprotecting`` watches the ASR job
(running), ``syncing`` waits for the item to show the result (settling) and ``protected`` means done.
"""

from __future__ import annotations

from dataclasses import asdict, replace
from datetime import UTC, datetime, timedelta
from typing import Any

from app.cloud.ids import ItemRef, name_of, parse_item_id, parse_vault_id
from app.cloud.snapshots import listing
from app.cloud.types import AsrJob, Cloud, ReplicatedItem
from app.errors import CloudPermanent, CloudThrottled
from app.job.item_operations import ItemOperation, not_allowed, operation_of
from app.job.states import JobState
from app.job.steps import JobView, Learned, SendGuard, StepResult, asr_error_of, asr_time


def run_item_step(cloud: Cloud, job: JobView, guard: SendGuard) -> StepResult:
    """Advance a job of an item-operation kind by one step."""
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


def _validate(cloud: Cloud, job: JobView, op: ItemOperation) -> StepResult:
    item = cloud.get_item(parse_item_id(job.item_id))
    if item is None:
        return _failure("vm_not_found", "Site Recovery no longer lists a replicated item for this VM.")
    if _running(item, op) is None:  # our own operation already runs (a retry after a lost answer): adopt it there
        refused = not_allowed(op, item)
        if refused is not None:
            return _failure(*refused)
    return StepResult(to_state=JobState.SUBMITTING, reason=f"{op.operation} is allowed on the item", poll=False)


def _submit(cloud: Cloud, job: JobView, guard: SendGuard, op: ItemOperation) -> StepResult:
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


def _running(item: ReplicatedItem, op: ItemOperation) -> str | None:
    """The name of the ASR job of this operation running on the item, from its ``currentScenario``."""
    if item.current_job_id and item.current_scenario.lower() == op.scenario.lower():
        return name_of(item.current_job_id)
    return None


def _adoptable(cloud: Cloud, job: JobView, op: ItemOperation, item: ReplicatedItem | None) -> StepResult | None:
    """This attempt's operation already reached Azure (its answer was lost): adopt its ASR job, never resend.

    While the operation runs the item names it in ``currentScenario`` (a finished test failover keeps it until
    the cleanup); an operation that already finished is found, once sent, by the item's state and the vault's
    jobs.
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
    if job.switch_sent_seconds_ago is None:
        return None
    since_send = _started_since_send(cloud, ref, item, op, job.switch_sent_seconds_ago)
    if (
        since_send is not None and since_send.name != job.asr_job_name
    ):  # not an earlier attempt's job  # it ran (and maybe failed fast) while the answer was lost: watch that job
        return StepResult(
            to_state=JobState.REPROTECTING,
            reason=f"adopted the ASR job the unanswered {op.label} started ({since_send.name})",
            learned=_job_learned(ref, since_send.name),
            poll=False,
        )
    if not op.done(item, job.customization):
        return None
    earlier = _latest_job(cloud, ref, item, op)
    learned = _job_learned(ref, earlier.name) if earlier is not None else Learned()
    return StepResult(
        to_state=JobState.REPROTECTING if earlier is not None else JobState.SYNCING,
        reason=f"adopted the {op.label} sent before, which already took effect",
        learned=learned,
        poll=False,
    )


# Azure's clock and ours may differ; a job that started up to this long before our send is still ours.
CLOCK_SKEW = timedelta(minutes=2)


def _started_since_send(
    cloud: Cloud, ref: ItemRef, item: ReplicatedItem, op: ItemOperation, sent_seconds_ago: float
) -> AsrJob | None:
    """The vault's ASR job of ``op`` on this VM that started after this attempt sent it (whatever its state):
    an operation whose answer was lost and which already ended — a failure included — is never sent again."""
    sent_at = datetime.now(UTC) - timedelta(seconds=sent_seconds_ago) - CLOCK_SKEW
    latest = _latest_job(cloud, ref, item, op)
    started = asr_time(latest.start_time) if latest is not None else None
    return latest if started is not None and started >= sent_at else None


def _latest_job(cloud: Cloud, ref: ItemRef, item: ReplicatedItem, op: ItemOperation) -> AsrJob | None:
    names = {item.vm_name.lower(), ref.name.lower()}
    return next(
        (
            j
            for j in cloud.list_jobs(ref.vault)
            if j.scenario_name.lower() == op.scenario.lower() and j.target_object_name.lower() in names
        ),
        None,
    )


def _watch(cloud: Cloud, job: JobView, op: ItemOperation) -> StepResult:
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


def _settle(cloud: Cloud, job: JobView, op: ItemOperation) -> StepResult:
    item = cloud.get_item(parse_item_id(job.item_id))
    if item is None:
        return StepResult(reason="the item is not visible")
    if op.done(item, job.customization):
        return StepResult(
            to_state=JobState.PROTECTED,
            reason=f"{op.label} done (protectionState {item.protection_state}, "
            f"testFailoverState {item.test_failover_state}, active on {item.active_location})",
        )
    return StepResult(
        reason=f"protectionState is {item.protection_state} (testFailoverState {item.test_failover_state}), "
        f"waiting for {op.waiting_for}"
    )


def _job_learned(ref: ItemRef, job_name: str) -> Learned:
    return Learned(asr_job_name=job_name, asr_job_id=ref.vault.job_id(job_name))


def _failure(code: str, message: str, details: dict[str, Any] | None = None) -> StepResult:
    return StepResult(
        to_state=JobState.FAILED, reason=message, error_code=code, error_message=message, error_details=details
    )
