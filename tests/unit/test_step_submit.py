"""The submitting step: switch protection is sent once, from the stored plan, or a reprotect already in Azure is adopted."""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from typing import Any

import pytest

from app.cloud.ids import parse_item_id
from app.cloud.types import AsrJob, DiskReplication, SwitchProtectionSpec
from app.errors import CloudPermanent, CloudThrottled, CloudTransient
from app.job.states import JobState
from app.job.steps import JobView, Learned, SendGuard, StepResult, run_step
from tests.fakes import FakeCloud, sample_item

VAULT = (
    "/subscriptions/7c943c1b-5122-4097-90c8-861411bdd574/resourceGroups/vijami-alertrg"
    "/providers/Microsoft.RecoveryServices/vaults/vijamireprotecttest"
)
ITEM_NAME = "YtSLUmr1siwOhCNihjyTaOjo3bXTQoCCN96TnEVq5fM"
MOVED_ID = (
    f"{VAULT}/replicationFabrics/asr-a2a-default-ukwest/replicationProtectionContainers"
    f"/asr-a2a-default-ukwest-container/replicationProtectedItems/{ITEM_NAME}"
)
SUB = "/subscriptions/7c943c1b-5122-4097-90c8-861411bdd574"
CACHE = f"{SUB}/resourceGroups/rg-asr/providers/Microsoft.Storage/storageAccounts/cache1"
TARGET_RG = f"{SUB}/resourceGroups/rg-back"
AVSET = f"{SUB}/resourceGroups/rg-back/providers/Microsoft.Compute/availabilitySets/avset1"
PPG = f"{SUB}/resourceGroups/rg-back/providers/Microsoft.Compute/proximityPlacementGroups/ppg1"
CONTAINER = f"{VAULT}/replicationFabrics/asr-a2a-default-uksouth/replicationProtectionContainers/c-back"
POLICY = f"{VAULT}/replicationPolicies/p-back"
DISK_OS = f"{SUB}/resourceGroups/rg-back/providers/Microsoft.Compute/disks/os"
DISK_DATA = f"{SUB}/resourceGroups/rg-back/providers/Microsoft.Compute/disks/data"


def _disk(name: str, disk_id: str, target_type: str, replica_type: str) -> dict[str, Any]:
    return {
        "name": name,
        "disk_id": disk_id,
        "target_disk_id": disk_id + "-target",
        "status": "existing",
        "size_gb": 128.0,
        "target_disk_type": target_type,
        "replica_disk_type": replica_type,
    }


def stored_plan(*, placement: bool = True) -> dict[str, Any]:
    """A plan as the job row keeps it (two disks; an availability set and a proximity group when ``placement``)."""
    return {
        "vm": "reprotectvm",
        "item_id": sample_item()["id"],
        "vault_id": VAULT,
        "direction": {
            "source": "UK West",
            "target": "UK South",
            "source_location": "ukwest",
            "target_location": "uksouth",
        },
        "recovery_container_id": CONTAINER,
        "policy_id": POLICY,
        "target_resource_group": {"id": TARGET_RG, "name": "rg-back", "status": "existing"},
        "network": {
            "id": f"{SUB}/resourceGroups/n/providers/Microsoft.Network/virtualNetworks/v",
            "name": "v",
            "status": "fixed",
        },
        "cache_storage_account": {"id": CACHE, "name": "cache1", "status": "existing"},
        "availability_set": {"id": AVSET, "name": "avset1", "status": "existing"} if placement else None,
        "proximity_placement_group": {"id": PPG, "name": "ppg1", "status": "existing"} if placement else None,
        "disks": [
            _disk("os", DISK_OS, "Premium_LRS", "Standard_LRS"),
            _disk("data", DISK_DATA, "StandardSSD_LRS", "Premium_ZRS"),
        ],
        "estimated_seconds": 3600.0,
    }


@dataclass
class Sends:
    """A send guard that notes what the step asked to record, and how many calls had reached Azure by then."""

    cloud: FakeCloud
    settle_seconds: float = 180.0
    log: list[tuple[str, int]] = field(default_factory=list)

    @property
    def guard(self) -> SendGuard:
        return SendGuard(
            settle_seconds=self.settle_seconds,
            record_sending=lambda: self.log.append(("sending", len(self.cloud.submitted))),
            record_not_sent=lambda: self.log.append(("not sent", len(self.cloud.submitted))),
        )


def submitting(item: dict[str, Any], **overrides: Any) -> JobView:
    fields: dict[str, Any] = {
        "id": "job-7",
        "state": JobState.SUBMITTING,
        "item_id": item["id"],
        "vault_id": VAULT,
        "vm_name": "reprotectvm",
        "customization": {},
        "stored_plan": stored_plan(),
        "asr_job_name": None,
        "new_item_id": None,
    }
    return JobView(**{**fields, **overrides})


def running(raw: dict[str, Any], scenario: str, job_name: str | None) -> dict[str, Any]:
    """The item with an operation running on it (``job_name`` None: the scenario shows no job)."""
    raw["properties"]["currentScenario"] = {
        "scenarioName": scenario,
        "jobId": f"{VAULT}/replicationJobs/{job_name or 'None'}",
    }
    return raw


def moved_copy(raw: dict[str, Any]) -> dict[str, Any]:
    """The item as reprotect leaves it: same name, now under the other region's fabric and container."""
    moved = copy.deepcopy(raw)
    moved["id"] = MOVED_ID
    moved["properties"]["protectionState"] = "Protected"
    return moved


def asr_job(name: str, scenario: str, target: str) -> AsrJob:
    return AsrJob(
        id=f"{VAULT}/replicationJobs/{name}",
        name=name,
        state="Succeeded",
        state_description="Completed",
        allowed_actions=(),
        tasks=(),
        errors=(),
        new_item_id=None,
        start_time=None,
        end_time=None,
        scenario_name=scenario,
        target_object_name=target,
    )


def submitted(job_name: str) -> StepResult:
    return StepResult(
        to_state=JobState.REPROTECTING,
        reason=f"switch protection submitted (ASR job {job_name})",
        learned=Learned(asr_job_name=job_name, asr_job_id=f"{VAULT}/replicationJobs/{job_name}"),
    )


@pytest.fixture
def item():
    return sample_item()


@pytest.fixture
def cloud(item):
    return FakeCloud(items=[item])


# --- sending -------------------------------------------------------------------------------------------------


def test_switch_protection_is_sent_from_the_stored_plan(cloud, item):
    sends = Sends(cloud)

    result = run_step(cloud, submitting(item), sends.guard)

    assert result == submitted("job-1")
    assert cloud.submitted == [
        SwitchProtectionSpec(
            item=parse_item_id(item["id"]),
            recovery_container_id=CONTAINER,
            policy_id=POLICY,
            recovery_resource_group_id=TARGET_RG,
            cache_storage_account_id=CACHE,
            disks=(
                DiskReplication(
                    disk_id=DISK_OS,
                    staging_account_id=CACHE,
                    recovery_resource_group_id=TARGET_RG,
                    replica_disk_type="Standard_LRS",
                    target_disk_type="Premium_LRS",
                ),
                DiskReplication(
                    disk_id=DISK_DATA,
                    staging_account_id=CACHE,
                    recovery_resource_group_id=TARGET_RG,
                    replica_disk_type="Premium_ZRS",
                    target_disk_type="StandardSSD_LRS",
                ),
            ),
            availability_set_id=AVSET,
            proximity_placement_group_id=PPG,
        )
    ]
    assert sends.log == [("sending", 0)]  # marked durably before the call left


def test_a_plan_without_placement_sends_none_for_it(cloud, item):
    run_step(cloud, submitting(item, stored_plan=stored_plan(placement=False)), Sends(cloud).guard)

    (spec,) = cloud.submitted
    assert (spec.availability_set_id, spec.proximity_placement_group_id) == (None, None)


def test_a_job_without_a_plan_is_a_broken_row_and_sends_nothing(cloud, item):
    with pytest.raises(ValueError, match=r"^job job-7 has no plan to submit$"):
        run_step(cloud, submitting(item, stored_plan=None), Sends(cloud).guard)
    with pytest.raises(ValueError, match=r"^job job-7 has no plan to submit$"):
        run_step(cloud, submitting(item, stored_plan={}), Sends(cloud).guard)
    assert cloud.submitted == []


def test_an_item_that_disappeared_fails_the_job_without_sending(item):
    cloud = FakeCloud(items=[])
    sends = Sends(cloud)

    result = run_step(cloud, submitting(item), sends.guard)

    message = "The replicated item disappeared before reprotect could be submitted."
    assert result == StepResult(
        to_state=JobState.FAILED, reason=message, error_code="vm_not_found", error_message=message
    )
    assert cloud.submitted == []
    assert sends.log == []


def test_an_item_that_no_longer_allows_reprotect_fails_the_job_naming_its_state(cloud, item):
    item["properties"]["allowedOperations"] = ["DisableProtection"]
    item["properties"]["protectionState"] = "Protected"

    result = run_step(cloud, submitting(item), Sends(cloud).guard)

    message = "Site Recovery no longer allows reprotect on this VM (it is 'Protected')."
    assert result == StepResult(
        to_state=JobState.FAILED, reason=message, error_code="reprotect_not_allowed", error_message=message
    )
    assert cloud.submitted == []


def test_an_operation_other_than_reprotect_on_the_item_is_not_adopted(cloud, item):
    running(item, "TestFailover", "tfo-1")

    assert run_step(cloud, submitting(item), Sends(cloud).guard) == submitted("job-1")


def test_a_reprotect_scenario_without_a_job_is_not_adopted(cloud, item):
    running(item, "SwitchProtection", None)

    assert run_step(cloud, submitting(item), Sends(cloud).guard) == submitted("job-1")


# --- Azure refuses or does not answer ------------------------------------------------------------------------


def test_a_throttled_send_is_taken_back_and_throttling_propagates(cloud, item):
    cloud.failures["switch_protection"] = CloudThrottled("slow down", retry_after=7)
    sends = Sends(cloud)

    with pytest.raises(CloudThrottled):
        run_step(cloud, submitting(item), sends.guard)

    assert sends.log == [("sending", 0), ("not sent", 1)]


def test_a_send_without_an_answer_stays_marked_as_sent(cloud, item):
    cloud.failures["switch_protection"] = CloudTransient("timed out")
    sends = Sends(cloud)

    with pytest.raises(CloudTransient):
        run_step(cloud, submitting(item), sends.guard)

    assert sends.log == [("sending", 0)]


def test_a_409_for_our_own_earlier_send_adopts_the_running_reprotect(cloud, item):
    cloud.on_switch = lambda c: running(c.items[0], "SwitchProtection", "lost-answer")
    cloud.failures["switch_protection"] = CloudPermanent("busy", code="OperationInProgress", status=409)

    result = run_step(cloud, submitting(item), Sends(cloud).guard)

    assert result == StepResult(
        to_state=JobState.REPROTECTING,
        reason="adopted the ASR job already running on the item (lost-answer)",
        learned=Learned(asr_job_name="lost-answer", asr_job_id=f"{VAULT}/replicationJobs/lost-answer"),
    )


def test_a_409_for_another_operation_propagates(cloud, item):
    cloud.on_switch = lambda c: running(c.items[0], "TestFailover", "tfo-1")
    refusal = CloudPermanent("busy", code="OperationInProgress", status=409)
    cloud.failures["switch_protection"] = refusal

    with pytest.raises(CloudPermanent) as raised:
        run_step(cloud, submitting(item), Sends(cloud).guard)
    assert raised.value is refusal


def test_a_409_after_which_the_item_vanished_propagates_even_if_it_moved(cloud, item):
    def moved_away(c: FakeCloud) -> None:
        c.items[:] = [running(moved_copy(item), "SwitchProtection", "elsewhere")]

    cloud.on_switch = moved_away
    cloud.failures["switch_protection"] = CloudPermanent("busy", code="OperationInProgress", status=409)

    with pytest.raises(CloudPermanent):
        run_step(cloud, submitting(item), Sends(cloud).guard)


def test_a_refusal_other_than_409_propagates_even_when_a_reprotect_shows(cloud, item):
    cloud.on_switch = lambda c: running(c.items[0], "SwitchProtection", "someone-else")
    cloud.failures["switch_protection"] = CloudPermanent("bad request", code="InvalidInput", status=400)

    with pytest.raises(CloudPermanent):
        run_step(cloud, submitting(item), Sends(cloud).guard)


# --- an earlier send that may still land ---------------------------------------------------------------------


def test_an_unanswered_send_within_the_settle_time_is_waited_for_not_repeated(cloud, item):
    sends = Sends(cloud, settle_seconds=180.0)

    result = run_step(cloud, submitting(item, switch_sent_seconds_ago=30.0), sends.guard)

    assert result == StepResult(
        reason="an earlier switch protection got no answer and may still land in Azure: waiting for it",
        look_again_within=150.0,
    )
    assert cloud.submitted == []
    assert sends.log == []


def test_half_a_second_before_the_settle_time_ends_the_step_still_waits(cloud, item):
    result = run_step(cloud, submitting(item, switch_sent_seconds_ago=179.5), Sends(cloud, settle_seconds=180).guard)

    assert result.look_again_within == 0.5
    assert cloud.submitted == []


def test_once_the_settle_time_is_over_the_lost_send_is_presumed_lost_and_sent_again(cloud, item):
    result = run_step(cloud, submitting(item, switch_sent_seconds_ago=180.0), Sends(cloud, settle_seconds=180).guard)

    assert result == submitted("job-1")
    assert len(cloud.submitted) == 1


def test_a_reprotect_that_landed_is_adopted_even_within_the_settle_time(cloud, item):
    running(item, "SwitchProtection", "landed")

    result = run_step(cloud, submitting(item, switch_sent_seconds_ago=5.0), Sends(cloud).guard)

    assert result.to_state == JobState.REPROTECTING
    assert result.learned == Learned(asr_job_name="landed", asr_job_id=f"{VAULT}/replicationJobs/landed")


# --- adopting what reached Azure before a crash ----------------------------------------------------------------


def test_a_reprotect_running_on_the_item_is_adopted_instead_of_sending_another(cloud, item):
    running(item, "SwitchProtection", "asr-42")
    sends = Sends(cloud)

    result = run_step(cloud, submitting(item), sends.guard)

    assert result == StepResult(
        to_state=JobState.REPROTECTING,
        reason="adopted the ASR job already running on the item (asr-42)",
        learned=Learned(asr_job_name="asr-42", asr_job_id=f"{VAULT}/replicationJobs/asr-42"),
    )
    assert cloud.submitted == []
    assert sends.log == []


def test_a_reprotect_running_on_the_moved_item_is_adopted_with_the_new_item(item):
    cloud = FakeCloud(items=[running(moved_copy(item), "Reprotect", "asr-43")])

    result = run_step(cloud, submitting(item), Sends(cloud).guard)

    assert result == StepResult(
        to_state=JobState.REPROTECTING,
        reason="adopted the ASR job already running on the moved item (asr-43)",
        learned=Learned(asr_job_name="asr-43", asr_job_id=f"{VAULT}/replicationJobs/asr-43", new_item_id=MOVED_ID),
    )
    assert cloud.submitted == []


def test_an_item_that_already_moved_keeps_mirroring_the_latest_reprotect_of_this_vm(item):
    moved = moved_copy(item)
    cloud = FakeCloud(items=[moved])
    cloud.jobs = [
        asr_job("tfo", "TestFailover", "reprotectvm"),
        asr_job("other-vm", "SwitchProtection", "anothervm"),
        asr_job("newest", "Switch Protection", "REPROTECTVM"),
        asr_job("older", "SwitchProtection", "reprotectvm"),
    ]

    result = run_step(cloud, submitting(item), Sends(cloud).guard)

    assert result == StepResult(
        to_state=JobState.REPROTECTING,
        reason="the item already moved to the other region: reprotect was submitted before",
        learned=Learned(asr_job_name="newest", asr_job_id=f"{VAULT}/replicationJobs/newest", new_item_id=MOVED_ID),
        poll=False,
    )
    assert cloud.submitted == []


def test_a_reprotect_job_named_after_the_item_rather_than_the_vm_is_found_too(item):
    moved = moved_copy(item)
    moved["properties"]["friendlyName"] = "renamed-vm"
    cloud = FakeCloud(items=[moved])
    cloud.jobs = [asr_job("by-item-name", "ReverseReplicate", ITEM_NAME.upper())]

    result = run_step(cloud, submitting(item), Sends(cloud).guard)

    assert result.learned == Learned(
        asr_job_name="by-item-name", asr_job_id=f"{VAULT}/replicationJobs/by-item-name", new_item_id=MOVED_ID
    )


def test_an_item_that_moved_without_a_reprotect_job_on_record_is_followed_to_its_new_id(item):
    cloud = FakeCloud(items=[moved_copy(item)])
    cloud.jobs = [asr_job("tfo", "TestFailover", "reprotectvm")]

    result = run_step(cloud, submitting(item), Sends(cloud).guard)

    assert result == StepResult(
        to_state=JobState.REPROTECTING,
        reason="the item already moved to the other region: reprotect was submitted before",
        learned=Learned(new_item_id=MOVED_ID),
        poll=False,
    )


def test_another_operation_running_on_the_moved_item_is_not_adopted_as_the_reprotect(item):
    cloud = FakeCloud(items=[running(moved_copy(item), "TestFailover", "tfo-2")])

    result = run_step(cloud, submitting(item), Sends(cloud).guard)

    assert result == StepResult(
        to_state=JobState.REPROTECTING,
        reason="the item already moved to the other region: reprotect was submitted before",
        learned=Learned(new_item_id=MOVED_ID),
        poll=False,
    )


def test_an_item_only_found_in_another_vault_is_not_taken_for_ours(item):
    elsewhere = moved_copy(item)
    elsewhere["id"] = MOVED_ID.replace("vaults/vijamireprotecttest", "vaults/othervault")
    cloud = FakeCloud(items=[elsewhere])

    result = run_step(cloud, submitting(item), Sends(cloud).guard)

    assert result.error_code == "vm_not_found"


def test_the_same_item_found_by_name_while_its_read_lags_is_not_a_move(cloud, item):
    cloud.lagging_reads.add(item["id"].lower())

    result = run_step(cloud, submitting(item), Sends(cloud).guard)

    assert result.to_state == JobState.FAILED
    assert result.error_code == "vm_not_found"
    assert cloud.submitted == []
