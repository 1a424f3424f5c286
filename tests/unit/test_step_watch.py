"""Watching Azure after submission: the ASR job's outcome, its tasks and errors, then the resync until the VM is protected."""

from __future__ import annotations

import copy
from dataclasses import asdict
from typing import Any

import pytest

from app.cloud.types import AsrError, AsrJob, AsrTask
from app.job.states import JobState
from app.job.steps import JobView, Learned, SendGuard, StepResult, is_reprotect_scenario, run_step
from tests.fakes import FakeCloud, sample_item

NO_SENDS = SendGuard(settle_seconds=180, record_sending=lambda: None, record_not_sent=lambda: None)
VAULT = (
    "/subscriptions/7c943c1b-5122-4097-90c8-861411bdd574/resourceGroups/vijami-alertrg"
    "/providers/Microsoft.RecoveryServices/vaults/vijamireprotecttest"
)
ITEM_NAME = "YtSLUmr1siwOhCNihjyTaOjo3bXTQoCCN96TnEVq5fM"
NEW_ITEM = (
    f"{VAULT}/replicationFabrics/asr-a2a-default-ukwest/replicationProtectionContainers"
    f"/asr-a2a-default-ukwest-container/replicationProtectedItems/{ITEM_NAME}"
)
TASKS = (
    AsrTask("t1", "Prerequisites check", "Succeeded", "Completed", "2025-04-09T09:00:00Z", "2025-04-09T09:01:00Z"),
    AsrTask("t2", "Switch protection", "InProgress", "In progress", "2025-04-09T09:01:00Z", None),
)


def asr_job(state: str, *, errors: tuple[AsrError, ...] = (), new_item_id: str | None = None, **more: Any) -> AsrJob:
    fields: dict[str, Any] = {
        "id": f"{VAULT}/replicationJobs/asr-1",
        "name": "asr-1",
        "state": state,
        "state_description": "",
        "allowed_actions": (),
        "tasks": TASKS,
        "errors": errors,
        "new_item_id": new_item_id,
        "start_time": None,
        "end_time": None,
    }
    return AsrJob(**{**fields, **more})


def job(state: JobState, **overrides: Any) -> JobView:
    fields: dict[str, Any] = {
        "id": "job-1",
        "state": state,
        "item_id": sample_item()["id"],
        "vault_id": VAULT,
        "vm_name": "reprotectvm",
        "customization": {},
        "stored_plan": None,
        "asr_job_name": "asr-1",
        "new_item_id": None,
    }
    return JobView(**{**fields, **overrides})


def watching(*jobs: AsrJob, **overrides: Any) -> StepResult:
    return run_step(FakeCloud(jobs=list(jobs)), job(JobState.REPROTECTING, **overrides), NO_SENDS)


def mirrored(asr: AsrJob) -> Learned:
    return Learned(asr_tasks=TASKS, asr_job_state=asr.state, new_item_id=asr.new_item_id)


# --- the ASR job -----------------------------------------------------------------------------------------------


def test_a_running_asr_job_is_mirrored_and_looked_at_again_later():
    asr = asr_job("InProgress")

    assert watching(asr) == StepResult(learned=mirrored(asr))


def test_the_new_item_a_running_asr_job_already_names_is_learned():
    asr = asr_job("InProgress", new_item_id=NEW_ITEM)

    assert watching(asr) == StepResult(
        learned=Learned(asr_tasks=TASKS, asr_job_state="InProgress", new_item_id=NEW_ITEM)
    )


def test_a_succeeded_asr_job_moves_on_to_the_resync_with_the_new_item():
    asr = asr_job("Succeeded", new_item_id=NEW_ITEM)

    assert watching(asr, new_item_id="/subscriptions/x/old") == StepResult(
        to_state=JobState.SYNCING,
        reason="ASR reprotect job succeeded; watching the resynchronisation",
        learned=Learned(asr_tasks=TASKS, asr_job_state="Succeeded", new_item_id=NEW_ITEM),
        poll=False,
    )


def test_a_succeeded_asr_job_that_names_no_new_item_keeps_the_one_the_job_knows():
    asr = asr_job("succeeded")

    result = watching(asr, new_item_id=NEW_ITEM)

    assert result.to_state == JobState.SYNCING
    assert result.learned == Learned(asr_tasks=TASKS, asr_job_state="succeeded", new_item_id=NEW_ITEM)


def test_an_adopted_move_without_an_asr_job_goes_straight_to_the_resync():
    cloud = FakeCloud(failures={"get_job": AssertionError("nothing to read")})

    result = run_step(cloud, job(JobState.REPROTECTING, asr_job_name=None), NO_SENDS)

    assert result == StepResult(to_state=JobState.SYNCING, reason="ASR job already finished", poll=False)


def test_an_asr_job_azure_no_longer_knows_fails_the_job():
    message = "Azure no longer knows the ASR job asr-9."

    assert watching(asr_job("InProgress"), asr_job_name="asr-9") == StepResult(
        to_state=JobState.FAILED, reason=message, error_code="asr_job_not_found", error_message=message
    )


def test_an_asr_job_of_another_vault_is_not_ours():
    other = asr_job("Succeeded", id=f"{VAULT}2/replicationJobs/asr-1")

    assert watching(other).error_code == "asr_job_not_found"


def test_a_cancelled_asr_job_cancels_the_job():
    asr = asr_job("Cancelled")

    assert watching(asr) == StepResult(
        to_state=JobState.CANCELLED, reason="the ASR job was cancelled", learned=mirrored(asr)
    )


def test_a_failed_asr_job_fails_the_job_with_asrs_code_message_and_advice():
    errors = (
        AsrError(code=None, message="A provider hiccup without a code"),
        AsrError(
            code="70094",
            message="The replica disk could not be created.",
            possible_causes="Quota",
            recommended_action="Raise the disk quota and retry.",
            provider_code=4711,
            provider_message="quota exceeded",
            task_id="t2",
        ),
        AsrError(code="99999", message="A later error"),
    )
    asr = asr_job("Failed", errors=errors)

    result = watching(asr)

    message = (
        "The replica disk could not be created. (provider error 4711: quota exceeded) Raise the disk quota and retry."
    )
    assert result == StepResult(
        to_state=JobState.FAILED,
        reason=message,
        learned=mirrored(asr),
        error_code="70094",
        error_message=message,
        error_details={"asr_errors": [asdict(e) for e in errors]},
    )
    assert result.error_details is not None
    assert result.error_details["asr_errors"][1]["provider_code"] == 4711


def test_a_failed_asr_job_error_without_advice_shows_its_message_alone():
    asr = asr_job("Failed", errors=(AsrError(code="E1", message="Disk busy."),))

    result = watching(asr)

    assert (result.error_code, result.error_message, result.reason) == ("E1", "Disk busy.", "Disk busy.")


def test_a_failed_asr_job_error_without_a_message_says_the_job_failed():
    asr = asr_job("Failed", errors=(AsrError(code="E2", message=""),))

    assert watching(asr).error_message == "The ASR job failed."


def test_a_failed_asr_job_without_coded_errors_says_what_state_it_reported():
    asr = asr_job("Failed", errors=(AsrError(code=None, message="?"),), state_description="Failed at task 3")

    result = watching(asr)

    assert result.error_code == "asr_job_failed"
    assert result.error_message == "The ASR reprotect job failed (Failed at task 3)."


def test_a_failed_asr_job_without_any_details_says_so():
    result = watching(asr_job("Failed"))

    assert result.error_code == "asr_job_failed"
    assert result.error_message == "The ASR reprotect job failed (no details)."
    assert result.error_details == {"asr_errors": []}


# --- the resync --------------------------------------------------------------------------------------------------


def reprotected(
    *, state: str = "Protected", health: str | None = "Normal", percent: int | None = 100
) -> dict[str, Any]:
    """The item as reprotect leaves it: moved to the other region's fabric, resyncing back."""
    raw = copy.deepcopy(sample_item())
    raw["id"] = NEW_ITEM
    raw["properties"]["protectionState"] = state
    raw["properties"]["replicationHealth"] = health
    raw["properties"]["providerSpecificDetails"]["monitoringPercentageCompletion"] = percent
    return raw


def syncing(cloud: FakeCloud, **overrides: Any) -> StepResult:
    return run_step(cloud, job(JobState.SYNCING, **overrides), NO_SENDS)


def test_a_resync_in_progress_records_its_percentage():
    cloud = FakeCloud(items=[reprotected(state="ProtectionStatesUnknown", percent=37)])

    assert syncing(cloud, new_item_id=NEW_ITEM) == StepResult(learned=Learned(new_item_id=NEW_ITEM, resync_percent=37))


def test_a_protected_item_ends_the_job_at_full_progress_naming_its_health():
    cloud = FakeCloud(items=[reprotected(percent=None)])

    assert syncing(cloud, new_item_id=NEW_ITEM) == StepResult(
        to_state=JobState.PROTECTED,
        reason="replication is protected (Normal)",
        learned=Learned(new_item_id=NEW_ITEM, resync_percent=100),
    )


def test_a_protected_item_without_a_reported_health_says_so():
    cloud = FakeCloud(items=[reprotected(state="protected", health=None)])

    assert syncing(cloud, new_item_id=NEW_ITEM).reason == "replication is protected (health unknown)"


def test_without_a_known_new_item_the_vm_is_looked_up_by_name_in_the_vault():
    cloud = FakeCloud(items=[reprotected(state="Resyncing", percent=12)])

    assert syncing(cloud, new_item_id=None) == StepResult(learned=Learned(new_item_id=NEW_ITEM, resync_percent=12))


def test_a_new_item_id_that_does_not_answer_yet_falls_back_to_the_vm_name():
    cloud = FakeCloud(items=[reprotected(state="Resyncing", percent=50)])

    result = syncing(cloud, new_item_id=NEW_ITEM.replace(ITEM_NAME, "gone"))

    assert result == StepResult(learned=Learned(new_item_id=NEW_ITEM, resync_percent=50))


def test_an_item_not_visible_yet_is_waited_for():
    cloud = FakeCloud(items=[])

    assert syncing(cloud, new_item_id=NEW_ITEM) == StepResult(reason="the reprotected item is not visible yet")


def test_the_resync_reads_the_item_it_was_told_about_before_searching():
    raw = reprotected(state="Resyncing", percent=80)
    cloud = FakeCloud(items=[raw], failures={"find_item": AssertionError("no search needed")})

    assert syncing(cloud, new_item_id=NEW_ITEM).learned == Learned(new_item_id=NEW_ITEM, resync_percent=80)


@pytest.mark.parametrize(
    ("scenario", "reprotect"),
    [
        ("SwitchProtection", True),
        ("Switch Protection", True),
        ("Reprotect", True),
        ("ReverseReplicate", True),
        ("Reverse Replication", True),
        ("TestFailover", False),
        ("UnplannedFailover", False),
        ("None", False),
    ],
)
def test_which_running_operations_count_as_a_reprotect(scenario, reprotect):
    assert is_reprotect_scenario(scenario) is reprotect


def _failed_long_ago() -> AsrJob:
    return asr_job("Failed", errors=(AsrError(code="151195", message="DNS failed"),), end_time="2020-01-01T00:00:00Z")


def test_a_failure_from_before_our_restart_is_looked_at_again_not_taken_as_the_end():
    """Restart sent 10 s ago; Azure still shows the job's earlier failure (ended before the Restart): wait."""
    cloud = FakeCloud(items=[sample_item()], jobs=[_failed_long_ago()])
    result = run_step(cloud, job(JobState.REPROTECTING, switch_sent_seconds_ago=10.0), NO_SENDS)
    assert (result.to_state, result.error_code) == (None, None)
    assert "before its restart" in result.reason


def test_the_same_stale_failure_after_the_settle_window_fails_the_attempt():
    cloud = FakeCloud(items=[sample_item()], jobs=[_failed_long_ago()])
    result = run_step(cloud, job(JobState.REPROTECTING, switch_sent_seconds_ago=600.0), NO_SENDS)
    assert (result.to_state, result.error_code) == (JobState.FAILED, "151195")


def test_a_reprotect_rerun_as_another_asr_job_is_followed():
    """Azure's Restart example answers with a separate job: the item names the job that runs now."""
    item = sample_item()
    item["properties"]["currentScenario"] = {
        "scenarioName": "SwitchProtection",
        "jobId": f"{VAULT}/replicationJobs/asr-2",
        "startTime": "2025-04-09T10:00:00Z",
    }
    cloud = FakeCloud(items=[item], jobs=[_failed_long_ago()])
    result = run_step(cloud, job(JobState.REPROTECTING, switch_sent_seconds_ago=600.0), NO_SENDS)
    assert (result.to_state, result.error_code, result.learned.asr_job_name) == (None, None, "asr-2")
