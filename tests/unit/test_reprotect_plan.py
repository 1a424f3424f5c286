"""The plan resolve_plan builds (the portal's review blade), field by field: what reprotect uses, reuses and creates."""

from __future__ import annotations

import dataclasses

import pytest

from app.job.cache_accounts import candidate_name
from app.job.plan import (
    PlannedDisk,
    PlannedResource,
    RegionHealth,
    RegionRead,
    ReprotectDirection,
    ReprotectPlan,
    TargetRegionCheck,
)
from app.job.prerequisites import resolve_plan
from app.job.schemas import VmTarget
from tests.fakes import ready_cloud, sample_item

SUB = "/subscriptions/7c943c1b-5122-4097-90c8-861411bdd574"
VAULT_GROUP = f"{SUB}/resourceGroups/vijami-alertrg"
VAULT = f"{SUB}/resourceGroups/vijami-alertrg/providers/Microsoft.RecoveryServices/vaults/vijamireprotecttest"
CONTAINER = f"{VAULT}/replicationFabrics/asr-a2a-default-uksouth/replicationProtectionContainers/asr-a2a-default-uksouth-container"
ITEM = f"{CONTAINER}/replicationProtectedItems/YtSLUmr1siwOhCNihjyTaOjo3bXTQoCCN96TnEVq5fM"
ORIGINAL_VM = f"{SUB}/resourcegroups/vijami-alertrg/providers/microsoft.compute/virtualmachines/reprotectvm"
RUNNING_GROUP = f"{SUB}/resourcegroups/vijami-alertrg-asr-1"
OS_DISK = "reprotectvm_OsDisk_1_3df79f45354b43f4ba8a28480582e708"
STORAGE = "providers/Microsoft.Storage/storageAccounts"

RECORDED_PLAN = ReprotectPlan(
    vm="reprotectvm",
    item_id=ITEM,
    vault_id=VAULT,
    direction=ReprotectDirection(
        source="UK West", target="UK South", source_location="ukwest", target_location="uksouth"
    ),
    recovery_container_id=CONTAINER,
    policy_id="p-back",
    target_resource_group=PlannedResource(
        id=f"{SUB}/resourcegroups/vijami-alertrg", name="vijami-alertrg", status="existing"
    ),
    network=PlannedResource(
        id=f"{SUB}/resourceGroups/vijami-alertrg/providers/Microsoft.Network/virtualNetworks/nzntestvm-vnet",
        name="nzntestvm-vnet",
        status="fixed",
    ),
    # No cache account yet: a new one in the vault's resource group, where the portal puts it.
    cache_storage_account=PlannedResource(
        id=f"{VAULT_GROUP}/{STORAGE}/vija37ff9433f554asrcache", name="vija37ff9433f554asrcache", status="new"
    ),
    availability_set=None,
    proximity_placement_group=None,
    disks=(
        PlannedDisk(
            name=OS_DISK,
            disk_id=f"{SUB}/resourceGroups/vijami-alertrg-asr-1/providers/Microsoft.Compute/disks/{OS_DISK}",
            target_disk_id=f"{SUB}/resourcegroups/vijami-alertrg/providers/microsoft.compute/disks/{OS_DISK.lower()}",
            status="existing",
            size_gb=127.0,
            target_disk_type="Premium_LRS",
            replica_disk_type="Premium_LRS",
            disk_type="OperatingSystem",
        ),
    ),
    # 127 GiB of Premium (200 MB/s): 650.24 s copy + 141.36 s resync of 5 %, plus 1/5, plus 25 min autoscale.
    estimated_seconds=2449.9,
    # The original resource group and VM answered (the VM names its disk); Resource Health says Available.
    target_region=TargetRegionCheck(
        location="uksouth",
        reads=(
            RegionRead("original resource group", f"{SUB}/resourcegroups/vijami-alertrg", "found"),
            RegionRead("original VM", ORIGINAL_VM, "found"),
            RegionRead(
                "disk of the original VM",
                f"{SUB}/resourcegroups/vijami-alertrg/providers/microsoft.compute/disks/{OS_DISK.lower()}",
                "named by the original VM's answer",
            ),
        ),
        resource_health=RegionHealth("available", "Available", None, None),
        fabric_health="Normal",
    ),
)


@pytest.fixture
def item():
    return sample_item()


@pytest.fixture
def details(item):
    return item["properties"]["providerSpecificDetails"]


@pytest.fixture
def cloud(item):
    return ready_cloud(item)


def plan(cloud, item, **custom) -> ReprotectPlan:
    return resolve_plan(cloud, VmTarget(item_id=item["id"], **custom))


def test_the_recorded_vm_resolves_to_the_portals_review_plan(cloud, item):
    assert plan(cloud, item) == RECORDED_PLAN


def test_a_vm_named_by_vault_and_name_in_any_case_resolves_to_the_same_plan(cloud):
    assert resolve_plan(cloud, VmTarget(vault_id=VAULT, vm_name="ReprotectVM")) == RECORDED_PLAN


def test_a_worker_resolves_the_same_plan(cloud, item):
    assert resolve_plan(cloud, VmTarget(item_id=item["id"]), patient=True) == RECORDED_PLAN


def test_named_targets_are_used_and_marked_new_when_they_do_not_exist(cloud, item):
    group = f"{SUB}/resourceGroups/elsewhere"
    cloud.add_resource(group, location="uksouth")  # a named cache account's group must exist
    cache = f"{SUB}/resourceGroups/elsewhere/{STORAGE}/mycache"
    avset = f"{SUB}/resourceGroups/elsewhere/providers/Microsoft.Compute/availabilitySets/web-set"
    resolved = plan(cloud, item, cache_storage_account_id=cache, availability_set_id=avset)
    assert resolved == dataclasses.replace(
        RECORDED_PLAN,
        cache_storage_account=PlannedResource(id=cache, name="mycache", status="new"),
        availability_set=PlannedResource(id=avset, name="web-set", status="new"),
    )


def test_named_targets_that_exist_are_marked_existing(cloud, item):
    cache = f"{SUB}/resourceGroups/vijami-alertrg-asr-1/{STORAGE}/westcache"
    avset = f"{SUB}/resourceGroups/vijami-alertrg/providers/Microsoft.Compute/availabilitySets/web-set"
    ppg = f"{SUB}/resourceGroups/vijami-alertrg/providers/Microsoft.Compute/proximityPlacementGroups/near"
    cloud.add_storage_account(cache, location="UKWest")  # locations compare in any case
    cloud.add_resource(avset, location="uksouth")
    cloud.add_resource(ppg, location="uksouth")
    resolved = plan(
        cloud, item, cache_storage_account_id=cache, availability_set_id=avset, proximity_placement_group_id=ppg
    )
    assert resolved == dataclasses.replace(
        RECORDED_PLAN,
        cache_storage_account=PlannedResource(id=cache, name="westcache", status="existing"),
        availability_set=PlannedResource(id=avset, name="web-set", status="existing"),
        proximity_placement_group=PlannedResource(id=ppg, name="near", status="existing"),
    )


def test_disk_types_can_be_changed_and_the_estimate_follows_the_target_type(cloud, item):
    resolved = plan(cloud, item, target_disk_type="StandardSSD_LRS", replica_disk_type="Standard_LRS")
    (disk,) = resolved.disks
    assert (disk.target_disk_type, disk.replica_disk_type) == ("StandardSSD_LRS", "Standard_LRS")
    # 127 GiB at StandardSSD's 120 MB/s: 1083.73 s copy + 235.59 s resync, plus 1/5, plus 25 min autoscale.
    assert resolved.estimated_seconds == 3083.2


def test_an_asrcache_account_in_the_running_region_is_reused(cloud, item):
    cloud.add_storage_account(f"{RUNNING_GROUP}/{STORAGE}/logsstorage", location="ukwest")  # not a cache account
    cloud.add_storage_account(f"{RUNNING_GROUP}/{STORAGE}/southasrcache", location="uksouth")  # wrong region
    assert plan(cloud, item).cache_storage_account == RECORDED_PLAN.cache_storage_account
    kept = f"{SUB}/resourceGroups/vijami-alertrg-asr-1/{STORAGE}/keptasrcache"
    cloud.add_storage_account(kept, location="UKWest")
    assert plan(cloud, item).cache_storage_account == PlannedResource(id=kept, name="keptasrcache", status="existing")


def test_the_original_vms_availability_set_is_kept(cloud, item):
    avset = f"{SUB}/resourceGroups/vijami-alertrg/providers/Microsoft.Compute/availabilitySets/orig-set"
    cloud.resources[ORIGINAL_VM]["properties"]["availabilitySet"] = {"id": avset}
    assert plan(cloud, item).availability_set == PlannedResource(id=avset, name="orig-set", status="new")
    cloud.add_resource(avset, location="uksouth")
    assert plan(cloud, item).availability_set == PlannedResource(id=avset, name="orig-set", status="existing")


def test_without_an_original_vm_the_vm_returns_to_its_recovery_group_on_new_disks(cloud, item, details):
    del details["fabricObjectId"]
    group = f"{SUB}/resourceGroups/vijami-alertrg-asr-1"
    cloud.add_resource(group, location="ukwest")
    resolved = plan(cloud, item)
    assert resolved.target_resource_group == PlannedResource(id=group, name="vijami-alertrg-asr-1", status="existing")
    assert resolved.availability_set is None
    assert [disk.status for disk in resolved.disks] == ["new"]


def test_a_disk_the_original_vm_does_not_have_is_new_and_sizes_keep_two_decimals(cloud, item, details):
    data_disk = dict(details["protectedManagedDisks"][0])
    data_disk.update(
        diskId=f"{SUB}/resourceGroups/vijami-alertrg/providers/Microsoft.Compute/disks/data-1",
        recoveryTargetDiskId=f"{SUB}/resourceGroups/vijami-alertrg-asr-1/providers/Microsoft.Compute/disks/data-1",
        diskName="data-1",
        diskCapacityInBytes=1_000_000_000,  # 0.931 GiB
        recoveryTargetDiskAccountType="Standard_LRS",
        recoveryReplicaDiskAccountType="StandardSSD_LRS",
        diskType="Data",
    )
    details["protectedManagedDisks"].append(data_disk)
    assert plan(cloud, item).disks[1] == PlannedDisk(
        name="data-1",
        disk_id=f"{SUB}/resourceGroups/vijami-alertrg-asr-1/providers/Microsoft.Compute/disks/data-1",
        target_disk_id=f"{SUB}/resourceGroups/vijami-alertrg/providers/Microsoft.Compute/disks/data-1",
        status="new",
        size_gb=0.93,
        target_disk_type="Standard_LRS",
        replica_disk_type="StandardSSD_LRS",
        disk_type="Data",
    )


def test_a_self_mapped_or_unrelated_container_mapping_is_not_the_reverse_one(cloud, item):
    forward, reverse = cloud.mappings
    unrelated = f"{VAULT}/replicationFabrics/northeurope/replicationProtectionContainers/n"
    cloud.mappings = [
        dataclasses.replace(forward, target_container_id=forward.source_container_id, policy_id="p-self"),
        dataclasses.replace(forward, source_container_id=unrelated, policy_id="p-unrelated"),
        forward,
        reverse,
    ]
    assert plan(cloud, item).policy_id == "p-back"


@pytest.mark.parametrize(
    ("subscription", "group", "location", "attempt", "name"),
    [
        # Plans and claims carry these names: they must never change from one version to the next.
        ("7c943c1b-5122-4097-90c8-861411bdd574", "vijami-alertrg", "ukwest", 0, "vija37ff9433f554asrcache"),
        ("7C943C1B-5122-4097-90c8-861411bdd574", "Vijami-AlertRG", "UKWest", 0, "vija37ff9433f554asrcache"),
        ("7c943c1b-5122-4097-90c8-861411bdd574", "vijami-alertrg", "ukwest", 1, "vija70af0bf593c8asrcache"),
        ("6d3c1b8e-2f47-4a9c-b1e5-7c0d9a4f2e18", "contoso-dr-rg", "southeastasia", 0, "cont8c4e856c80b0asrcache"),
    ],
)
def test_the_default_cache_account_name_is_stable(subscription, group, location, attempt, name):
    assert candidate_name(subscription, group, location, attempt) == name
    assert 3 <= len(name) <= 24
    assert name.isalnum()
    assert name == name.lower()
