"""Prerequisite checks and the resolved plan, against the recorded item and an injected fake cloud."""

import inspect
import json
import re

import pytest

from app.cloud.types import Fabric
from app.job import prerequisites
from app.job.cache_accounts import candidate_name
from app.job.prerequisites import VmCheckFailed, resolve_plan
from app.job.schemas import VmTarget
from tests.fakes import ready_cloud, sample_item

SUB = "/subscriptions/7c943c1b-5122-4097-90c8-861411bdd574"


@pytest.fixture
def item():
    return sample_item()


@pytest.fixture
def cloud(item):
    return ready_cloud(item)


def _target(item, **custom):
    return VmTarget(item_id=item["id"], **custom)


def _problem(cloud, target):
    with pytest.raises(VmCheckFailed) as failed:
        resolve_plan(cloud, target)
    return failed.value.problem


def test_committed_vm_resolves_to_the_portals_review_plan(cloud, item):
    plan = resolve_plan(cloud, _target(item))
    assert (plan.direction.source, plan.direction.target) == ("UK West", "UK South")
    assert plan.policy_id == "p-back"  # the reverse mapping's policy
    assert plan.recovery_container_id.lower() == item["id"].rsplit("/replicationProtectedItems/", 1)[0].lower()
    assert plan.target_resource_group.name == "vijami-alertrg"
    assert plan.target_resource_group.status == "existing"
    assert plan.network.status == "fixed"
    assert plan.network.id.endswith("nzntestvm-vnet")
    assert plan.cache_storage_account.status == "new"
    # No cache account in the vault's or the VM's group: a new one in the vault's group, named for it.
    assert plan.cache_storage_account.name == candidate_name(SUB.split("/")[2], "vijami-alertrg", "ukwest")
    assert "/resourceGroups/vijami-alertrg/" in str(plan.cache_storage_account.id)
    assert plan.disks[0].status == "existing"
    assert "vijami-alertrg-asr-1" in plan.disks[0].disk_id
    assert plan.estimated_seconds > 25 * 60


def test_an_existing_cache_account_in_the_running_region_is_reused(cloud, item):
    cache = f"{SUB}/resourceGroups/vijami-alertrg-asr-1/providers/Microsoft.Storage/storageAccounts/oldasrcache"
    cloud.add_storage_account(cache, location="ukwest")
    assert resolve_plan(cloud, _target(item)).cache_storage_account.status == "existing"


def test_naming_the_original_group_is_accepted_and_other_customisation_honoured(cloud, item):
    rg = f"{SUB}/resourceGroups/VIJAMI-ALERTRG"  # the original VM's group, in another case
    plan = resolve_plan(cloud, _target(item, target_resource_group_id=rg, target_disk_type="StandardSSD_LRS"))
    assert (plan.target_resource_group.name, plan.target_resource_group.status) == ("vijami-alertrg", "existing")
    assert plan.disks[0].target_disk_type == "StandardSSD_LRS"


def test_another_target_group_than_the_original_vms_is_refused(cloud, item):
    problem = _problem(cloud, _target(item, target_resource_group_id=f"{SUB}/resourceGroups/elsewhere"))
    assert problem.code == "target_resource_group_not_changeable"
    assert "vijami-alertrg" in problem.message
    assert "Remove target_resource_group_id" in problem.message


def test_target_network_cannot_be_changed(cloud, item):
    problem = _problem(
        cloud, _target(item, target_network_id=f"{SUB}/resourceGroups/x/providers/Microsoft.Network/virtualNetworks/v")
    )
    assert problem.code == "network_not_changeable"
    assert "network mapping" in problem.message


def test_uncommitted_failover_is_refused_with_what_to_do(cloud, item):
    item["properties"]["protectionState"] = "UnplannedFailover"
    item["properties"]["allowedOperations"] = ["Commit", "ChangePit"]
    problem = _problem(cloud, _target(item))
    assert problem.code == "failover_not_committed"
    assert "Commit" in problem.message


def test_running_operation_is_a_conflict(cloud, item):
    item["properties"]["currentScenario"] = {"scenarioName": "SwitchProtection", "jobId": f"{SUB}/x/replicationJobs/j1"}
    assert _problem(cloud, _target(item)).code == "operation_in_progress"


def test_deleted_source_vm_is_refused(cloud, item):
    del cloud.resources[item["properties"]["providerSpecificDetails"]["fabricObjectId"].lower()]
    assert _problem(cloud, _target(item)).code == "source_vm_deleted"


def test_moved_source_vm_is_refused_and_says_where_it_went(cloud, item):
    source = item["properties"]["providerSpecificDetails"]["fabricObjectId"]
    del cloud.resources[source.lower()]
    cloud.add_resource(f"{SUB}/resourceGroups/other-rg/providers/Microsoft.Compute/virtualMachines/reprotectvm")
    problem = _problem(cloud, _target(item))
    assert problem.code == "source_vm_moved"
    assert "other-rg" in problem.message


def test_a_critical_fabric_is_shown_not_refused(cloud, item):
    cloud.fabrics["asr-a2a-default-uksouth"] = Fabric(
        "asr-a2a-default-uksouth", "UK South", "uksouth", "Critical", ("Region outage",)
    )
    region = resolve_plan(cloud, _target(item)).target_region
    assert region is not None
    assert (region.fabric_health, region.fabric_health_errors) == ("Critical", ("Region outage",))
    assert "Region outage" in " ".join(region.advisories)


def test_missing_reverse_mappings_are_refused(cloud, item):
    cloud.mappings = cloud.mappings[:1]
    assert _problem(cloud, _target(item)).code == "reverse_container_mapping_missing"


def test_missing_network_mapping_is_refused(cloud, item):
    cloud.networks = []
    assert _problem(cloud, _target(item)).code == "reverse_network_mapping_missing"


def test_unknown_vm_is_not_found(cloud, item):
    vault = item["id"].split("/replicationFabrics/")[0]
    problem = _problem(cloud, VmTarget(vault_id=vault, vm_name="nope"))
    assert problem.code == "vm_not_found"


def test_cache_account_names_are_valid_storage_names():
    for attempt in range(4):
        name = candidate_name("7c943c1b-5122-4097-90c8-861411bdd574", "My-Very_Long.RG(2026)", "southeastasia", attempt)
        assert 3 <= len(name) <= 24
        assert name.isalnum()
        assert name == name.lower()


OTHER = "0b1f6471-1bf0-4dda-aec3-111122223333"  # the VM's subscription; the vault stays in the recorded one


def _vm_in_another_subscription(item):
    """The recorded item with everything of the VM (original, failed-over, disks, networks) in ``OTHER``."""
    details = item["properties"]["providerSpecificDetails"]
    moved = json.loads(json.dumps(details).replace(SUB.split("/")[-1], OTHER))
    item["properties"]["providerSpecificDetails"] = moved
    cloud = ready_cloud(item)
    cloud.add_resource(f"/subscriptions/{OTHER}/resourceGroups/vijami-alertrg", location="uksouth")
    return cloud


def test_a_vm_in_another_subscription_than_the_vault_resolves_against_its_own_subscription(item):
    cloud = _vm_in_another_subscription(item)
    cache = f"/subscriptions/{OTHER}/resourceGroups/vijami-alertrg-asr-1/providers/Microsoft.Storage/storageAccounts/c1asrcache"
    cloud.add_storage_account(cache, location="ukwest")

    plan = resolve_plan(cloud, _target(item))

    assert plan.vault_id.startswith(SUB)  # ASR calls stay with the vault
    assert plan.recovery_container_id.lower().startswith(SUB.lower())
    assert plan.target_resource_group.id.lower() == f"/subscriptions/{OTHER}/resourcegroups/vijami-alertrg"
    assert plan.target_resource_group.status == "existing"  # read in the VM's subscription, where it is
    assert (plan.cache_storage_account.id, plan.cache_storage_account.status) == (cache, "existing")
    assert plan.disks[0].status == "existing"  # the original VM (and its disks) read in the VM's subscription
    assert plan.disks[0].disk_id.lower().startswith(f"/subscriptions/{OTHER}/")


def test_a_vm_in_another_subscription_keeps_its_group_there(item):
    cloud = _vm_in_another_subscription(item)
    same_name_in_vault_subscription = f"{SUB}/resourceGroups/vijami-alertrg"
    problem = _problem(cloud, _target(item, target_resource_group_id=same_name_in_vault_subscription))
    assert problem.code == "target_resource_group_not_changeable"
    named = f"/subscriptions/{OTHER}/resourceGroups/vijami-alertrg"
    assert resolve_plan(cloud, _target(item, target_resource_group_id=named)).target_resource_group.status == "existing"


def test_every_refusal_of_the_item_state_check_is_confirmed_with_the_item_itself():
    # The codes intake and the worker confirm with a direct read are exactly those check_state can raise: a new
    # code there must be added to ITEM_STATE_CODES, or a list snapshot's stale state could refuse a VM.
    source = inspect.getsource(prerequisites.check_state)
    raised = set(re.findall(r'_fail\(\s*target,\s*"([a-z_]+)"', source))
    assert raised == prerequisites.ITEM_STATE_CODES
