"""Every prerequisite refusal names the VM and says, word for word, what is wrong and what the operator should do."""

from __future__ import annotations

import pytest

from app.cloud.types import AvailabilityStatus, ContainerMapping
from app.errors import CloudError, CloudPermanent, CloudThrottled, CloudTransient, VmProblem
from app.job.prerequisites import VmCheckFailed, recheck, resolve_plan
from app.job.schemas import VmTarget
from tests.fakes import ready_cloud, sample_item

SUB = "/subscriptions/7c943c1b-5122-4097-90c8-861411bdd574"
VAULT = f"{SUB}/resourceGroups/vijami-alertrg/providers/Microsoft.RecoveryServices/vaults/vijamireprotecttest"
ORIGINAL_VM = f"{SUB}/resourcegroups/vijami-alertrg/providers/microsoft.compute/virtualmachines/reprotectvm"
RUNNING_VM = f"{SUB}/resourcegroups/vijami-alertrg-asr-1/providers/microsoft.compute/virtualmachines/reprotectvm"


@pytest.fixture
def item():
    return sample_item()


@pytest.fixture
def props(item):
    return item["properties"]


@pytest.fixture
def details(props):
    return props["providerSpecificDetails"]


@pytest.fixture
def cloud(item):
    return ready_cloud(item)


def refused(cloud, target: VmTarget, *, patient: bool = False) -> VmProblem:
    """The problem resolve_plan refuses ``target`` with; the exception's text is the problem's message."""
    with pytest.raises(VmCheckFailed) as failed:
        resolve_plan(cloud, target, patient=patient)
    assert str(failed.value) == failed.value.problem.message
    return failed.value.problem


def problem(item, code: str, message: str) -> VmProblem:
    return VmProblem(vm=item["id"], code=code, message=message)


def by_id(item, **custom) -> VmTarget:
    return VmTarget(item_id=item["id"], **custom)


def test_a_new_target_network_is_refused(cloud, item):
    target = by_id(item, target_network_id=f"{SUB}/resourceGroups/x/providers/Microsoft.Network/virtualNetworks/v")
    assert refused(cloud, target) == problem(
        item,
        "network_not_changeable",
        "The target virtual network cannot be changed during reprotect. Remove target_network_id; to use another "
        "network, change the vault's network mapping and reprotect again.",
    )


NOT_FOUND = (
    "No replicated item matches this VM in the vault. Check the id or name; a VM that is not protected by Site "
    "Recovery cannot be reprotected."
)


def test_a_vm_the_vault_does_not_protect_is_not_found_under_its_vault_and_name(cloud):
    target = VmTarget(vault_id=VAULT, vm_name="nope")
    assert refused(cloud, target) == VmProblem(vm=f"{VAULT}/nope", code="vm_not_found", message=NOT_FOUND)


def test_a_vm_protected_by_another_vault_is_not_found_in_this_one(cloud):
    other_vault = VAULT.replace("vijamireprotecttest", "othervault")
    target = VmTarget(vault_id=other_vault, vm_name="reprotectvm")
    assert refused(cloud, target) == VmProblem(vm=f"{other_vault}/reprotectvm", code="vm_not_found", message=NOT_FOUND)


def test_an_item_id_that_does_not_exist_is_not_found(cloud, item):
    missing = item["id"].replace("YtSLUmr1", "ZZZZZZZZ")
    assert refused(cloud, VmTarget(item_id=missing)) == VmProblem(vm=missing, code="vm_not_found", message=NOT_FOUND)


@pytest.mark.parametrize(
    ("scenario", "job", "shown"),
    [
        ("TestFailover", "replicationJobs/None", "TestFailover"),  # a scenario runs, its job id not yet known
        ("None", "replicationJobs/5ea3e0c2-1b7c-4f1e-9d4a-0c2d9c7f3a11", "None"),  # a job runs, no scenario named
    ],
)
def test_an_operation_already_running_is_refused(cloud, item, props, scenario, job, shown):
    props["currentScenario"] = {"scenarioName": scenario, "jobId": f"{VAULT}/{job}"}
    assert refused(cloud, by_id(item)) == problem(
        item,
        "operation_in_progress",
        f"Site Recovery is already running an operation on this VM ({shown}). Wait for it to finish, then retry.",
    )


@pytest.mark.parametrize(
    ("state", "description", "shown"),
    [
        ("EnablingProtection", "Enabling protection", "Enabling protection"),
        ("Protected", "", "Protected"),  # no description: the state itself
    ],
)
def test_a_vm_still_in_its_primary_region_has_nothing_to_reprotect(cloud, item, props, state, description, shown):
    props.update(activeLocation="Primary", protectionState=state, protectionStateDescription=description)
    assert refused(cloud, by_id(item)) == problem(
        item,
        "not_failed_over",
        f"The VM runs in its primary region (UK South) and is '{shown}'; there is nothing to reprotect.",
    )


def test_an_uncommitted_failover_is_refused_with_how_to_commit_it(cloud, item, props):
    props.update(protectionState="UnplannedFailover", allowedOperations=["Commit", "ChangePit"])
    assert refused(cloud, by_id(item)) == problem(
        item,
        "failover_not_committed",
        "The failover has not been committed. Commit it (portal: Commit; PowerShell: "
        "Start-AzRecoveryServicesAsrCommitFailoverJob), then retry the reprotect.",
    )


@pytest.mark.parametrize(
    ("state", "description", "shown"),
    [
        ("CancelFailoverFailedOnRecovery", "Cancel failover failed", "Cancel failover failed"),
        ("CancelFailoverFailedOnRecovery", "", "CancelFailoverFailedOnRecovery"),
    ],
)
def test_a_state_reprotect_cannot_start_from_is_refused(cloud, item, props, state, description, shown):
    props.update(protectionState=state, protectionStateDescription=description, allowedOperations=["DisableProtection"])
    assert refused(cloud, by_id(item)) == problem(
        item, "invalid_protection_state", f"The VM is '{shown}'; reprotect needs a committed failover."
    )


def test_a_committed_vm_whose_item_does_not_allow_switch_protection_is_refused(cloud, item, props):
    props["allowedOperations"] = ["DisableProtection"]
    assert refused(cloud, by_id(item)) == problem(
        item,
        "reprotect_not_allowed",
        "Site Recovery does not allow reprotect on this VM now (SwitchProtection is not among its allowed "
        "operations). Check the item's health in the vault.",
    )


ORIGINAL_GROUP = f"{SUB}/resourcegroups/vijami-alertrg"


def tried(vm_answer: str) -> str:
    return f"original resource group {ORIGINAL_GROUP}: found; original VM {ORIGINAL_VM}: {vm_answer}"


def unreachable(vm_answer: str) -> str:
    return (
        f"The target region UK South did not answer reads of the resources reprotect writes to ({tried(vm_answer)}). "
        "Retry when it is reachable."
    )


@pytest.mark.parametrize(
    "fault",
    [
        CloudTransient("Azure answered 503: The resource provider is unavailable", status=503),
        CloudTransient("Azure could not be reached: read timed out"),  # a timeout: no status
        CloudError("the subscription is disabled"),  # unclassified
    ],
)
def test_a_target_region_that_does_not_answer_is_unreachable_for_the_api_with_what_was_tried(cloud, item, fault):
    cloud.failures["get_vm"] = fault
    failed = refused(cloud, by_id(item))  # as the API calls it: not patient
    assert (failed.code, failed.message) == ("target_region_unreachable", unreachable(f"failed: {fault.message}"))
    assert failed.asr_error is not None
    reads = failed.asr_error["target_region"]["reads"]
    assert [(r["what"], r["answer"]) for r in reads] == [
        ("original resource group", "found"),
        ("original VM", f"failed: {fault.message}"),
    ]


def test_a_worker_waits_out_a_target_region_that_does_not_answer(cloud, item):
    blip = CloudTransient("read timed out", status=504)
    cloud.failures["get_vm"] = blip
    with pytest.raises(CloudTransient) as raised:
        resolve_plan(cloud, by_id(item), patient=True)
    assert raised.value is blip


@pytest.mark.parametrize(
    "fault", [CloudThrottled("slow down", retry_after=7), CloudPermanent("no", code="AuthorizationFailed", status=403)]
)
@pytest.mark.parametrize("method", ["get_vm", "availability"])
def test_throttling_and_refusals_reading_the_regions_reach_the_caller(cloud, item, fault, method):
    if method == "availability" and isinstance(fault, CloudPermanent):
        return  # Resource Health refusing is advisory: tests/unit/test_target_region.py
    cloud.failures[method] = fault
    with pytest.raises(CloudError) as raised:
        resolve_plan(cloud, by_id(item))
    assert raised.value is fault


def test_the_vault_fabric_failing_to_answer_does_not_refuse_and_is_shown(cloud, item):
    cloud.failures["get_fabric"] = CloudTransient("read timed out", status=504)
    region = resolve_plan(cloud, by_id(item)).target_region
    assert region is not None
    assert region.fabric_health is None
    assert region.advisories == (
        "The vault's fabric for the target region could not be read; its health is not shown.",
    )


DELETED = (
    "The original VM reprotectvm no longer exists in resource group vijami-alertrg. A deleted VM cannot be "
    "reprotected: disable replication and enable it again."
)


def test_a_deleted_original_vm_is_refused(cloud, item):
    del cloud.resources[ORIGINAL_VM]
    assert refused(cloud, by_id(item)) == problem(item, "source_vm_deleted", DELETED)


def test_a_moved_original_vm_is_refused_and_says_where_it_went(cloud, item):
    del cloud.resources[ORIGINAL_VM]
    cloud.add_resource(f"{SUB}/resourceGroups/other-rg/providers/Microsoft.Compute/virtualMachines/ReprotectVM")
    assert refused(cloud, by_id(item)) == problem(
        item,
        "source_vm_moved",
        "The original VM reprotectvm was moved from resource group vijami-alertrg to other-rg. A moved VM cannot be "
        "reprotected: disable replication and enable it again.",
    )


@pytest.mark.parametrize(
    ("group", "name", "location"),
    [
        ("other-rg", "webserver", "uksouth"),  # another VM, not the original
        ("dr-copies", "reprotectvm", "westeurope"),  # the same name in another region
    ],
)
def test_other_vms_do_not_make_a_deleted_original_look_moved(cloud, item, group, name, location):
    del cloud.resources[ORIGINAL_VM]
    vm = f"{SUB}/resourceGroups/{group}/providers/Microsoft.Compute/virtualMachines/{name}"
    cloud.add_resource(vm, location=location)
    assert refused(cloud, by_id(item)) == problem(item, "source_vm_deleted", DELETED)


def test_the_failed_over_vm_does_not_make_a_deleted_original_look_moved_within_one_region(cloud, item, details):
    # Zone to zone: both copies live in UK West, so only its id tells the failed-over VM from a moved original.
    details["primaryFabricLocation"] = "ukwest"
    del cloud.resources[ORIGINAL_VM]
    assert refused(cloud, by_id(item)) == problem(item, "source_vm_deleted", DELETED)


def test_a_deleted_original_vm_still_listed_by_arm_is_deleted_not_moved(cloud, item):
    stale = cloud.resources.pop(ORIGINAL_VM)
    cloud.stale_listed_vms.append(stale)
    assert refused(cloud, by_id(item)) == problem(item, "source_vm_deleted", DELETED)


def test_a_deleted_failed_over_vm_is_refused(cloud, item):
    del cloud.resources[RUNNING_VM]
    assert refused(cloud, by_id(item)) == problem(
        item,
        "failed_over_vm_not_found",
        f"The failed-over VM in UK West ({RUNNING_VM}) no longer exists, so there is nothing to replicate back. "
        "Disable replication for this item.",
    )


NO_CONTAINER_MAPPING = (
    "No protection container mapping goes from UK West back to UK South. Create one (with a replication policy) in "
    "the vault, then retry."
)


def test_a_vault_without_a_reverse_container_mapping_is_refused(cloud, item):
    cloud.mappings = cloud.mappings[:1]  # only the forward mapping
    assert refused(cloud, by_id(item)) == problem(item, "reverse_container_mapping_missing", NO_CONTAINER_MAPPING)


def test_a_reverse_container_mapping_without_a_policy_does_not_count(cloud, item):
    forward, reverse = cloud.mappings
    cloud.mappings = [forward, ContainerMapping(reverse.source_container_id, reverse.target_container_id, None, "")]
    assert refused(cloud, by_id(item)) == problem(item, "reverse_container_mapping_missing", NO_CONTAINER_MAPPING)


def test_a_vault_without_a_reverse_network_mapping_is_refused(cloud, item):
    cloud.networks = []
    assert refused(cloud, by_id(item)) == problem(
        item,
        "reverse_network_mapping_missing",
        "No network mapping goes from the VM's network in UK West back to UK South. Create the network mapping in "
        "the vault, then retry.",
    )


def test_a_vm_with_no_resource_group_to_return_to_needs_one_named(cloud, item, details):
    del details["fabricObjectId"]  # no original VM recorded
    details["recoveryAzureResourceGroupId"] = None
    assert refused(cloud, by_id(item)) == problem(
        item, "target_resource_group_unknown", "Name a target_resource_group_id for this VM."
    )


def test_a_target_resource_group_other_than_the_original_vms_is_refused(cloud, item):
    target = by_id(
        item, target_resource_group_id="/subscriptions/0b1f6471-1bf0-4dda-aec3-111122223333/resourceGroups/x"
    )
    assert refused(cloud, target) == problem(
        item,
        "target_resource_group_not_changeable",
        f"Reprotect returns the VM to its original resource group {SUB}/resourcegroups/vijami-alertrg; the target "
        "resource group cannot be changed when reprotecting to the original VM. Remove target_resource_group_id (or "
        "name that group); to place the VM elsewhere, disable replication and enable it again.",
    )


def test_a_cache_storage_account_outside_the_running_region_is_refused(cloud, item):
    account = f"{SUB}/resourceGroups/vijami-alertrg/providers/Microsoft.Storage/storageAccounts/southcache"
    cloud.add_storage_account(account, location="uksouth")
    assert refused(cloud, by_id(item, cache_storage_account_id=account)) == problem(
        item,
        "cache_storage_account_wrong_region",
        "The cache storage account southcache cannot be used: it is in uksouth, not in ukwest where the VM runs "
        "now. Name a general-purpose v2 (Standard) account in ukwest, or leave cache_storage_account_id out.",
    )


def test_a_proximity_placement_group_that_does_not_exist_is_refused(cloud, item):
    ppg = f"{SUB}/resourceGroups/vijami-alertrg/providers/Microsoft.Compute/proximityPlacementGroups/near"
    assert refused(cloud, by_id(item, proximity_placement_group_id=ppg)) == problem(
        item,
        "proximity_placement_group_not_found",
        "The proximity placement group does not exist; Site Recovery does not create one. Create it first.",
    )


def test_the_recheck_before_submitting_passes_a_vm_that_is_still_reprotectable(cloud, item):
    assert recheck(cloud, by_id(item)) is None


def test_the_recheck_refuses_a_vm_whose_state_changed_since_it_was_accepted(cloud, item, props):
    props["currentScenario"] = {"scenarioName": "SwitchProtection", "jobId": f"{VAULT}/replicationJobs/j1"}
    with pytest.raises(VmCheckFailed) as failed:
        recheck(cloud, by_id(item))
    assert failed.value.problem == problem(
        item,
        "operation_in_progress",
        "Site Recovery is already running an operation on this VM (SwitchProtection). Wait for it to finish, then "
        "retry.",
    )


def test_the_recheck_refuses_a_vm_whose_target_region_went_down(cloud, item):
    cloud.health[ORIGINAL_VM] = AvailabilityStatus(
        ORIGINAL_VM, "Unavailable", summary="We're sorry, your virtual machine isn't available", reason_type="Unplanned"
    )
    with pytest.raises(VmCheckFailed) as failed:
        recheck(cloud, VmTarget(vault_id=VAULT, vm_name="reprotectvm"))
    assert (failed.value.problem.vm, failed.value.problem.code, failed.value.problem.message) == (
        f"{VAULT}/reprotectvm",
        "target_region_unavailable",
        "Azure Resource Health reports the original VM in the target region UK South as Unavailable (Unplanned; "
        "We're sorry, your virtual machine isn't available). Reprotect needs to create resources there; retry once "
        "the region has recovered.",
    )


def test_the_recheck_asks_resource_health_only(cloud, item):
    cloud.failures["get_vm"] = CloudTransient("read timed out")  # read by the plan moments ago
    recheck(cloud, by_id(item))


def test_the_recheck_names_a_vm_the_vault_no_longer_protects(cloud, item):
    cloud.items.clear()
    with pytest.raises(VmCheckFailed) as failed:
        recheck(cloud, by_id(item))
    assert failed.value.problem == problem(item, "vm_not_found", NOT_FOUND)
