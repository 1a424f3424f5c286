"""Picking a job up and validating it: a fresh plan is only re-checked, an old one resolved again; problems fail the job."""

from __future__ import annotations

from typing import Any

import pytest

from app.errors import CloudTransient
from app.job.prerequisites import resolve_plan
from app.job.schemas import VmTarget
from app.job.states import JobState
from app.job.steps import JobView, Learned, SendGuard, StepResult, run_step
from tests.fakes import SAMPLE_SUBSCRIPTION, FakeCloud, ready_cloud, sample_item

NO_SENDS = SendGuard(settle_seconds=180, record_sending=lambda: None, record_not_sent=lambda: None)
ELSEWHERE = (
    f"{SAMPLE_SUBSCRIPTION}/resourceGroups/vijami-alertrg/providers/Microsoft.Compute/availabilitySets/elsewhere"
)


def job(item: dict[str, Any], state: JobState, **overrides: Any) -> JobView:
    fields: dict[str, Any] = {
        "id": "job-1",
        "state": state,
        "item_id": item["id"],
        "vault_id": item["id"].split("/replicationFabrics/")[0],
        "vm_name": "reprotectvm",
        "customization": {},
        "stored_plan": None,
        "asr_job_name": None,
        "new_item_id": None,
    }
    return JobView(**{**fields, **overrides})


@pytest.fixture
def item():
    return sample_item()


@pytest.fixture
def cloud(item):
    return ready_cloud(item)


def test_an_accepted_job_is_picked_up_and_validated_at_once(cloud, item):
    result = run_step(cloud, job(item, JobState.ACCEPTED), NO_SENDS)

    assert result == StepResult(to_state=JobState.VALIDATING, reason="picked up by a worker", poll=False)


@pytest.mark.parametrize("state", [JobState.PROTECTED, JobState.FAILED, JobState.CANCELLED])
def test_a_finished_job_has_no_step_and_asks_azure_nothing(item, state):
    cloud = FakeCloud(failures={name: AssertionError(name) for name in ("get_item", "find_item", "get_job")})

    assert run_step(cloud, job(item, state), NO_SENDS) == StepResult(poll=False)


def test_a_plan_resolved_moments_ago_is_only_rechecked(cloud, item):
    cloud.mappings = []  # a full resolution would fail on the missing reverse mapping; a recheck does not look

    result = run_step(cloud, job(item, JobState.VALIDATING, plan_age_seconds=599.0), NO_SENDS)

    assert result == StepResult(
        to_state=JobState.SUBMITTING, reason="item state and target region re-checked", poll=False
    )


def test_a_recheck_that_finds_the_failover_uncommitted_fails_the_job(cloud, item):
    item["properties"]["protectionState"] = "UnplannedFailover"
    item["properties"]["allowedOperations"] = ["Commit"]

    result = run_step(cloud, job(item, JobState.VALIDATING, plan_age_seconds=5.0), NO_SENDS)

    message = (
        "The failover has not been committed. Commit it (portal: Commit; PowerShell: "
        "Start-AzRecoveryServicesAsrCommitFailoverJob), then retry the reprotect."
    )
    assert result == StepResult(
        to_state=JobState.FAILED, reason=message, error_code="failover_not_committed", error_message=message
    )


@pytest.mark.parametrize("age", [None, 600.0, 3600.0])
def test_a_plan_from_a_retry_or_older_than_ten_minutes_is_resolved_again(cloud, item, age):
    custom = {"availability_set_id": ELSEWHERE}

    result = run_step(cloud, job(item, JobState.VALIDATING, plan_age_seconds=age, customization=custom), NO_SENDS)

    expected = resolve_plan(cloud, VmTarget(item_id=item["id"], availability_set_id=ELSEWHERE))
    assert result == StepResult(
        to_state=JobState.SUBMITTING,
        reason="prerequisites re-checked and plan resolved again",
        learned=Learned(plan=expected),
        poll=False,
    )
    assert result.learned.plan is not None
    assert result.learned.plan.availability_set is not None
    assert (result.learned.plan.availability_set.id, result.learned.plan.availability_set.status) == (
        ELSEWHERE,
        "new",
    )


def test_a_resolution_that_fails_fails_the_job_with_the_checks_code_and_message(cloud, item):
    custom = {
        "target_network_id": f"{SAMPLE_SUBSCRIPTION}/resourceGroups/n/providers/Microsoft.Network/virtualNetworks/v"
    }

    result = run_step(cloud, job(item, JobState.VALIDATING, customization=custom), NO_SENDS)

    assert result.to_state == JobState.FAILED
    assert result.error_code == "network_not_changeable"
    assert result.error_message is not None
    assert result.error_message.startswith("The target virtual network cannot be changed during reprotect.")
    assert result.reason == result.error_message
    assert result.error_details is None


def test_an_unreachable_target_region_is_waited_out_by_the_worker_not_failed(cloud, item):
    cloud.failures["get_vm"] = CloudTransient("connection reset")

    with pytest.raises(CloudTransient):
        run_step(cloud, job(item, JobState.VALIDATING), NO_SENDS)
