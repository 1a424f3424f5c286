"""What a step learned merges onto what the job knew, the newer knowledge winning; and the deadline's failure text."""

from __future__ import annotations

from datetime import UTC, datetime

from app.cloud.types import AsrTask
from app.job.plan import PlannedResource, ReprotectDirection, ReprotectPlan
from app.job.states import JobState
from app.job.steps import Learned, StepResult, deadline_failure


def plan(vm: str) -> ReprotectPlan:
    resource = PlannedResource(id=f"/subscriptions/s/resourceGroups/{vm}", name=vm, status="existing")
    return ReprotectPlan(
        vm=vm,
        item_id=f"item-{vm}",
        vault_id="vault",
        direction=ReprotectDirection("UK West", "UK South", "ukwest", "uksouth"),
        recovery_container_id="c",
        policy_id="p",
        target_resource_group=resource,
        network=resource,
        cache_storage_account=resource,
        availability_set=None,
        proximity_placement_group=None,
        disks=(),
        estimated_seconds=60.0,
    )


TASK_A = (AsrTask("a", "A", "Succeeded", "", None, None),)
TASK_B = (AsrTask("b", "B", "InProgress", "", None, None),)


def test_the_newer_knowledge_wins_field_by_field():
    older = Learned(plan=plan("old"), asr_job_name="j1", asr_job_id="id1", asr_tasks=TASK_A, resync_percent=10)
    newer = Learned(plan=plan("new"), asr_job_state="InProgress", asr_tasks=TASK_B, new_item_id="item-2")

    merged = older | newer

    assert merged == Learned(
        plan=plan("new"),
        asr_job_name="j1",
        asr_job_id="id1",
        asr_job_state="InProgress",
        asr_tasks=TASK_B,
        new_item_id="item-2",
        resync_percent=10,
    )
    assert isinstance(merged.plan, ReprotectPlan)  # kept as the value, not flattened to a dict
    assert all(isinstance(t, AsrTask) for t in merged.asr_tasks or ())


def test_knowing_nothing_new_keeps_everything_known():
    known = Learned(plan=plan("old"), asr_job_name="j1", asr_tasks=TASK_A, new_item_id="item-1", resync_percent=5)

    assert known | Learned() == known
    assert Learned() | known == known


def test_a_deadline_fails_the_job_saying_when_and_what_to_do():
    deadline = datetime(2026, 3, 1, 12, 30, tzinfo=UTC)
    message = (
        "The reprotect did not finish by its deadline (2026-03-01T12:30:00+00:00). Check the VM in the vault; "
        "retry the job to keep watching it."
    )

    assert deadline_failure(deadline) == StepResult(
        to_state=JobState.FAILED, reason=message, error_code="deadline_exceeded", error_message=message
    )
