"""Which cache storage account the plan picks: the vault's resource group first, then the failed-over VM's;
only accounts in the region the VM runs in now, of the kind Site Recovery supports; else a new one."""

from __future__ import annotations

import pytest

from app.job.cache_accounts import candidate_name
from app.job.plan import PlannedResource
from app.job.prerequisites import VmCheckFailed, resolve_plan
from app.job.schemas import VmTarget
from tests.fakes import ready_cloud, sample_item

SUB_ID = "7c943c1b-5122-4097-90c8-861411bdd574"
SUB = f"/subscriptions/{SUB_ID}"
VAULT_GROUP = f"{SUB}/resourceGroups/vijami-alertrg"
VM_GROUP = f"{SUB}/resourceGroups/vijami-alertrg-asr-1"  # where the failed-over VM runs (UK West)
STORAGE = "providers/Microsoft.Storage/storageAccounts"


@pytest.fixture
def item():
    return sample_item()


@pytest.fixture
def cloud(item):
    return ready_cloud(item)


def cache_of(cloud, item, **custom) -> PlannedResource:
    return resolve_plan(cloud, VmTarget(item_id=item["id"], **custom)).cache_storage_account


def refusal(cloud, item, **custom):
    with pytest.raises(VmCheckFailed) as failed:
        resolve_plan(cloud, VmTarget(item_id=item["id"], **custom))
    return failed.value.problem


def test_the_vault_groups_account_comes_first(cloud, item):
    cloud.add_storage_account(f"{VM_GROUP}/{STORAGE}/aaavmasrcache", "ukwest")
    cloud.add_storage_account(f"{VAULT_GROUP}/{STORAGE}/zzzvaultasrcache", "ukwest")
    assert cache_of(cloud, item) == PlannedResource(
        id=f"{VAULT_GROUP}/{STORAGE}/zzzvaultasrcache", name="zzzvaultasrcache", status="existing"
    )


def test_the_vms_group_is_looked_in_when_the_vault_group_has_none(cloud, item):
    cloud.add_storage_account(f"{VM_GROUP}/{STORAGE}/vmgroupasrcache", "ukwest")
    assert cache_of(cloud, item).id == f"{VM_GROUP}/{STORAGE}/vmgroupasrcache"


@pytest.mark.parametrize(
    ("location", "kind", "sku", "why"),
    [
        ("uksouth", "StorageV2", "Standard_LRS", "the region the VM goes back to, not where it runs"),
        ("ukwest", "BlockBlobStorage", "Premium_LRS", "premium: only when the caller names it (high churn)"),
        ("ukwest", "StorageV2", "Premium_LRS", "premium general-purpose"),
        ("ukwest", "BlobStorage", "Standard_LRS", "blob-only account"),
        ("ukwest", "FileStorage", "Premium_LRS", "file shares only"),
    ],
)
def test_accounts_of_the_wrong_region_or_kind_are_skipped(cloud, item, location, kind, sku, why):
    cloud.add_storage_account(f"{VAULT_GROUP}/{STORAGE}/unsuitableasrcache", location, kind=kind, sku=sku)
    cloud.add_storage_account(f"{VM_GROUP}/{STORAGE}/suitableasrcache", "ukwest")
    assert cache_of(cloud, item).name == "suitableasrcache", why


def test_an_account_still_being_created_is_planned_new_not_sent_yet(cloud, item):
    ours = f"{VAULT_GROUP}/{STORAGE}/{candidate_name(SUB_ID, 'vijami-alertrg', 'ukwest')}"
    cloud.add_storage_account(ours, "ukwest", state="Creating")
    assert cache_of(cloud, item) == PlannedResource(id=ours, name=ours.rsplit("/", 1)[-1], status="new")


def test_accounts_not_named_as_cache_accounts_are_left_alone(cloud, item):
    cloud.add_storage_account(f"{VAULT_GROUP}/{STORAGE}/appdatalogs", "ukwest")
    planned = cache_of(cloud, item)
    assert planned.status == "new"
    assert planned.id == f"{VAULT_GROUP}/{STORAGE}/{candidate_name(SUB_ID, 'vijami-alertrg', 'ukwest')}"


def test_with_none_suitable_a_new_one_is_planned_in_the_vaults_group(cloud, item):
    planned = cache_of(cloud, item)
    assert planned.status == "new"
    assert str(planned.id).startswith(f"{VAULT_GROUP}/{STORAGE}/")
    assert planned.name.endswith("asrcache")
    assert len(planned.name) <= 24


def test_a_caller_named_existing_account_is_used_as_given(cloud, item):
    named = f"{VM_GROUP}/{STORAGE}/mychosencache"
    cloud.add_storage_account(named, "ukwest")
    assert cache_of(cloud, item, cache_storage_account_id=named) == PlannedResource(
        id=named, name="mychosencache", status="existing"
    )


def test_a_caller_named_premium_block_blob_account_is_accepted(cloud, item):
    named = f"{VM_GROUP}/{STORAGE}/highchurncache"
    cloud.add_storage_account(named, "ukwest", kind="BlockBlobStorage", sku="Premium_LRS")
    assert cache_of(cloud, item, cache_storage_account_id=named).status == "existing"


def test_a_caller_named_missing_account_keeps_its_name_and_is_planned_new(cloud, item):
    named = f"{VM_GROUP}/{STORAGE}/tobecreatedcache"
    cloud.add_resource(VM_GROUP, location="ukwest")
    assert cache_of(cloud, item, cache_storage_account_id=named) == PlannedResource(
        id=named, name="tobecreatedcache", status="new"
    )


def test_a_caller_named_account_in_a_missing_group_is_refused(cloud, item):
    named = f"{SUB}/resourceGroups/nosuchgroup/{STORAGE}/tobecreatedcache"
    assert refusal(cloud, item, cache_storage_account_id=named).code == "cache_storage_account_group_not_found"


def test_a_caller_named_account_of_the_wrong_kind_is_refused(cloud, item):
    named = f"{VM_GROUP}/{STORAGE}/filesharecache"
    cloud.add_storage_account(named, "ukwest", kind="FileStorage", sku="Premium_LRS")
    problem = refusal(cloud, item, cache_storage_account_id=named)
    assert problem.code == "cache_storage_account_unsuitable"
    assert "general-purpose v2" in problem.message


def test_a_caller_named_invalid_name_is_refused(cloud, item):
    named = f"{VM_GROUP}/{STORAGE}/My_Cache"
    assert refusal(cloud, item, cache_storage_account_id=named).code == "cache_storage_account_name_invalid"


def test_a_caller_named_id_that_is_not_a_storage_account_is_refused(cloud, item):
    named = f"{VM_GROUP}/providers/Microsoft.Compute/disks/mycache"
    assert refusal(cloud, item, cache_storage_account_id=named).code == "cache_storage_account_not_storage"


def test_a_caller_named_missing_account_whose_name_is_taken_elsewhere_is_refused_up_front(cloud, item):
    named = f"{VM_GROUP}/{STORAGE}/someoneelses"
    cloud.add_resource(VM_GROUP, location="ukwest")
    cloud.taken_storage_names.add("someoneelses")
    problem = refusal(cloud, item, cache_storage_account_id=named)
    assert problem.code == "cache_storage_account_name_taken"
    assert "global" in problem.message


OTHER_SUB = "/subscriptions/0b1f6471-1bf0-4dda-aec3-111122223333"  # the VM's own, under a central vault


def _vm_in_another_subscription(item):
    """The recorded item with the VM (original and failed-over) in ``OTHER_SUB``; the vault stays in ``SUB``."""
    details = item["properties"]["providerSpecificDetails"]
    for key in ("fabricObjectId", "recoveryFabricObjectId"):
        details[key] = details[key].replace(SUB_ID, OTHER_SUB.rsplit("/", 1)[-1])
    return ready_cloud(item)


def test_under_a_central_vault_the_cache_is_looked_for_and_made_in_the_vms_own_subscription(item):
    """The support matrix: the cache account must be in the VM's subscription, so the vault's group (in the
    vault's subscription) is skipped even when it holds a suitable account."""
    cloud = _vm_in_another_subscription(item)
    vm_group = VM_GROUP.replace(SUB, OTHER_SUB)
    cloud.add_storage_account(f"{VAULT_GROUP}/{STORAGE}/hubvaultasrcache", "ukwest")
    new = cache_of(cloud, item)
    assert (new.status, new.id.lower().startswith(f"{vm_group}/".lower())) == ("new", True)

    cloud.add_storage_account(f"{vm_group}/{STORAGE}/vmsubasrcache", "ukwest")
    assert cache_of(cloud, item).id == f"{vm_group}/{STORAGE}/vmsubasrcache"
