"""Every prerequisite refusal names the VM and says, word for word, what is wrong and what the operator should do."""

from __future__ import annotations

import pytest

from app.cloud.types import ContainerMapping, Fabric
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


UNAVAILABLE = (
    "The target region {region} is not available ({why}). Reprotect needs it to create resources; retry once the "
    "region has recovered."
)


def test_an_unhealthy_target_region_is_refused_with_every_health_error(cloud, item):
    cloud.fabrics["asr-a2a-default-uksouth"] = Fabric(
        "asr-a2a-default-uksouth", "UK South", "uksouth", "Critical", ("Region outage", "", "Agent unreachable")
    )
    assert refused(cloud, by_id(item)) == problem(
        item,
        "target_region_unavailable",
        UNAVAILABLE.format(region="UK South", why="Region outage; Agent unreachable"),
    )


def test_a_target_region_the_vault_does_not_know_is_unavailable(cloud, item):
    cloud.fabrics.clear()
    assert refused(cloud, by_id(item)) == problem(
        item, "target_region_unavailable", UNAVAILABLE.format(region="UK South", why="its fabric is not healthy")
    )


def test_a_target_region_without_a_friendly_name_is_named_by_its_fabric(cloud, item, props):
    props["primaryFabricFriendlyName"] = ""
    cloud.fabrics["asr-a2a-default-uksouth"] = Fabric("asr-a2a-default-uksouth", "", "uksouth", "Warning")
    assert refused(cloud, by_id(item)) == problem(
        item,
        "target_region_unavailable",
        UNAVAILABLE.format(region="asr-a2a-default-uksouth", why="its fabric is not healthy"),
    )


def test_a_target_region_that_does_not_answer_is_unreachable_for_the_api(cloud, item):
    cloud.failures["get_fabric"] = CloudTransient("read timed out", status=504)
    with pytest.raises(VmCheckFailed) as failed:
        resolve_plan(cloud, by_id(item))  # as the API calls it: not patient
    assert failed.value.problem == problem(
        item, "target_region_unreachable", "The target region UK South did not answer. Retry when it is reachable."
    )


def test_a_worker_waits_out_a_target_region_that_does_not_answer(cloud, item):
    blip = CloudTransient("read timed out", status=504)
    cloud.failures["get_fabric"] = blip
    with pytest.raises(CloudTransient) as raised:
        resolve_plan(cloud, by_id(item), patient=True)
    assert raised.value is blip


@pytest.mark.parametrize("patient", [False, True])
def test_an_unclassified_azure_failure_reading_the_target_region_is_unreachable(cloud, item, patient):
    cloud.failures["get_fabric"] = CloudError("the vault is being moved")
    assert refused(cloud, by_id(item), patient=patient) == problem(
        item,
        "target_region_unreachable",
        "The target region UK South did not answer (the vault is being moved). Retry when it is reachable.",
    )


@pytest.mark.parametrize(
    "fault", [CloudThrottled("slow down", retry_after=7), CloudPermanent("no", code="AuthorizationFailed", status=403)]
)
@pytest.mark.parametrize("method", ["get_fabric", "get_vm"])
def test_throttling_and_refusals_reading_the_regions_reach_the_caller(cloud, item, fault, method):
    cloud.failures[method] = fault
    with pytest.raises(CloudError) as raised:
        resolve_plan(cloud, by_id(item))
    assert raised.value is fault


def test_a_transient_failure_reading_the_original_vm_reaches_the_caller(cloud, item):
    blip = CloudTransient("connection reset")
    cloud.failures["get_vm"] = blip
    with pytest.raises(CloudTransient) as raised:
        resolve_plan(cloud, by_id(item))
    assert raised.value is blip


def test_an_unclassified_azure_failure_reading_the_original_vm_is_unreachable(cloud, item):
    cloud.failures["get_vm"] = CloudError("the subscription is disabled")
    assert refused(cloud, by_id(item)) == problem(
        item,
        "target_region_unreachable",
        "The original VM in UK South could not be read (the subscription is disabled). Retry later.",
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


def test_a_target_resource_group_in_another_subscription_is_refused(cloud, item):
    target = by_id(
        item, target_resource_group_id="/subscriptions/0b1f6471-1bf0-4dda-aec3-111122223333/resourceGroups/x"
    )
    assert refused(cloud, target) == problem(
        item,
        "target_resource_group_other_subscription",
        "The target resource group must be in the vault's subscription.",
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
    cloud.fabrics["asr-a2a-default-uksouth"] = Fabric("asr-a2a-default-uksouth", "UK South", "uksouth", "Critical")
    with pytest.raises(VmCheckFailed) as failed:
        recheck(cloud, VmTarget(vault_id=VAULT, vm_name="reprotectvm"))
    assert failed.value.problem == VmProblem(
        vm=f"{VAULT}/reprotectvm",
        code="target_region_unavailable",
        message=UNAVAILABLE.format(region="UK South", why="its fabric is not healthy"),
    )


def test_the_recheck_in_a_worker_waits_out_a_target_region_that_does_not_answer(cloud, item):
    blip = CloudTransient("read timed out")
    cloud.failures["get_fabric"] = blip
    with pytest.raises(CloudTransient) as raised:
        recheck(cloud, by_id(item))
    assert raised.value is blip


def test_the_recheck_names_a_vm_the_vault_no_longer_protects(cloud, item):
    cloud.items.clear()
    with pytest.raises(VmCheckFailed) as failed:
        recheck(cloud, by_id(item))
    assert failed.value.problem == problem(item, "vm_not_found", NOT_FOUND)
