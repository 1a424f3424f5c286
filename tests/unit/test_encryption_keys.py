"""Encrypted VMs, scale sets and unmanaged disks: what the plan reads, refuses and sends (recorded item as base).

ADE: the secret (and key encryption key) of the original disk, in a key vault of the region the VM goes
back to; customer-managed keys: the original disk's disk encryption set, in that region, with its key vault
there too (Azure docs for ADE and CMK replication). Sent as PowerShell sends them: ``diskEncryptionInfo``
(VM and per disk) and per-disk ``recoveryDiskEncryptionSetId`` (Update-AzRecoveryServicesAsrProtectionDirection).
"""

from __future__ import annotations

import pytest

from app.cloud import parse
from app.cloud.ids import parse_item_id
from app.errors import CloudTransient
from app.job.prerequisites import VmCheckFailed, resolve_plan
from app.job.schemas import VmTarget
from app.job.steps import spec_from_plan
from tests.fakes import SAMPLE_SUBSCRIPTION as SUB
from tests.fakes import ready_cloud, sample_item

KV = "providers/Microsoft.KeyVault/vaults"
SOUTH_KV = f"{SUB}/resourceGroups/vijami-alertrg/{KV}/reprotect-kv"  # uksouth: where the VM goes back
WEST_KV = f"{SUB}/resourceGroups/vijami-alertrg-asr-1/{KV}/reprotect-kvasr"  # ukwest: where it runs now
SOUTH_DES = f"{SUB}/resourceGroups/vijami-alertrg/providers/Microsoft.Compute/diskEncryptionSets/reprotect-des"
WEST_DES = f"{SUB}/resourceGroups/vijami-alertrg-asr-1/providers/Microsoft.Compute/diskEncryptionSets/reprotect-des-asr"
SECRET = "https://reprotect-kv.vault.azure.net/secrets/0f1e2d3c/4b5a69788796a5b4c3d2e1f0"
KEK = "https://reprotect-kv.vault.azure.net/keys/kek/0123456789abcdef0123456789abcdef"
WEST_SECRET = "https://reprotect-kvasr.vault.azure.net/secrets/0f1e2d3c/4b5a69788796a5b4c3d2e1f0"


@pytest.fixture
def item():
    return sample_item()


@pytest.fixture
def disk(item):
    return item["properties"]["providerSpecificDetails"]["protectedManagedDisks"][0]


@pytest.fixture
def cloud(item):
    fake = ready_cloud(item)
    fake.add_resource(SOUTH_KV, location="uksouth")
    fake.add_resource(WEST_KV, location="ukwest")
    return fake


def _ade(item, disk, *, kek: bool = False) -> None:
    """As Site Recovery shows an ADE VM (A2AProtectedManagedDiskDetails): the keys it replicates with."""
    item["properties"]["providerSpecificDetails"]["vmEncryptionType"] = "OnePassEncrypted"
    disk.update(isDiskEncrypted=True, secretIdentifier=WEST_SECRET, dekKeyVaultArmId=WEST_KV)
    if kek:
        disk.update(isDiskKeyEncrypted=True, keyIdentifier=KEK.replace("reprotect-kv.", "reprotect-kvasr."))
        disk.update(kekKeyVaultArmId=WEST_KV)


def _original_disk(cloud, disk, **properties) -> None:
    cloud.add_resource(disk["diskId"], location="uksouth", properties=properties)


def _ade_settings(secret_vault: str = SOUTH_KV, kek_vault: str | None = None) -> dict:
    entry: dict = {"diskEncryptionKey": {"sourceVault": {"id": secret_vault}, "secretUrl": SECRET}}
    if kek_vault:
        entry["keyEncryptionKey"] = {"sourceVault": {"id": kek_vault}, "keyUrl": KEK}
    return {"enabled": True, "encryptionSettings": [entry], "encryptionSettingsVersion": "1.1"}


def _plan(cloud, item):
    return resolve_plan(cloud, VmTarget(item_id=item["id"]))


def _body(cloud, item) -> dict:
    plan = _plan(cloud, item)
    return parse.switch_protection_body(spec_from_plan(parse_item_id(item["id"]), plan))["properties"][
        "providerSpecificDetails"
    ]


def _refusal(cloud, item) -> tuple[str, str]:
    with pytest.raises(VmCheckFailed) as caught:
        _plan(cloud, item)
    return caught.value.problem.code, caught.value.problem.message


def test_an_unencrypted_vm_reads_no_disk_and_sends_no_encryption(cloud, item):
    cloud.failures["get_disk"] = CloudTransient("must not be read")
    body = _body(cloud, item)
    assert "diskEncryptionInfo" not in body
    assert set(body["vmManagedDisks"][0]) == {
        "diskId",
        "primaryStagingAzureStorageAccountId",
        "recoveryResourceGroupId",
        "recoveryReplicaDiskAccountType",
        "recoveryTargetDiskAccountType",
    }


def test_an_ade_vm_goes_back_with_the_original_disks_secret_from_the_target_regions_vault(cloud, item, disk):
    _ade(item, disk)
    _original_disk(cloud, disk, encryptionSettingsCollection=_ade_settings())
    plan = _plan(cloud, item)
    assert (plan.disks[0].ade_secret_url, plan.disks[0].ade_secret_vault_id) == (SECRET, SOUTH_KV)
    body = _body(cloud, item)
    expected = {"diskEncryptionKeyInfo": {"secretIdentifier": SECRET, "keyVaultResourceArmId": SOUTH_KV}}
    assert body["diskEncryptionInfo"] == expected
    assert body["vmManagedDisks"][0]["diskEncryptionInfo"] == expected


def test_an_ade_vm_with_a_key_encryption_key_sends_both_keys(cloud, item, disk):
    _ade(item, disk, kek=True)
    _original_disk(cloud, disk, encryptionSettingsCollection=_ade_settings(kek_vault=SOUTH_KV))
    assert _body(cloud, item)["diskEncryptionInfo"] == {
        "diskEncryptionKeyInfo": {"secretIdentifier": SECRET, "keyVaultResourceArmId": SOUTH_KV},
        "keyEncryptionKeyInfo": {"keyIdentifier": KEK, "keyVaultResourceArmId": SOUTH_KV},
    }


def test_the_items_keys_serve_when_they_are_in_the_target_region(cloud, item, disk):
    _ade(item, disk)
    disk.update(secretIdentifier=SECRET, dekKeyVaultArmId=SOUTH_KV)  # the other plausible reading of the item
    assert _plan(cloud, item).disks[0].ade_secret_vault_id == SOUTH_KV  # no original disk readable


def test_an_ade_vm_whose_keys_are_only_in_the_region_it_runs_in_is_refused(cloud, item, disk):
    _ade(item, disk)
    _original_disk(cloud, disk, encryptionSettingsCollection=_ade_settings(secret_vault=WEST_KV))
    code, message = _refusal(cloud, item)
    assert code == "encryption_keys_unavailable"
    assert "uksouth" in message
    assert "is in ukwest" in message
    assert "aka.ms/ade-asr-copy-keys-code" in message


def test_an_ade_vm_whose_key_vault_is_gone_is_refused(cloud, item, disk):
    _ade(item, disk)
    del cloud.resources[SOUTH_KV.lower()]
    _original_disk(cloud, disk, encryptionSettingsCollection=_ade_settings())
    code, message = _refusal(cloud, item)
    assert code == "encryption_keys_unavailable"
    assert f"{SOUTH_KV} does not exist" in message


def test_a_key_encryption_key_in_another_region_refuses_the_vm(cloud, item, disk):
    _ade(item, disk, kek=True)
    _original_disk(cloud, disk, encryptionSettingsCollection=_ade_settings(kek_vault=WEST_KV))
    assert _refusal(cloud, item)[0] == "encryption_keys_unavailable"


def _des(cloud, disk, *, des_location: str = "uksouth", vault: str = SOUTH_KV) -> None:
    disk.update(primaryDiskEncryptionSetId=SOUTH_DES, recoveryDiskEncryptionSetId=WEST_DES)
    cloud.add_resource(
        SOUTH_DES,
        location=des_location,
        properties={"activeKey": {"sourceVault": {"id": vault}, "keyUrl": KEK}},
    )


def test_a_cmk_vm_goes_back_with_the_original_disks_encryption_set(cloud, item, disk):
    _des(cloud, disk)
    _original_disk(
        cloud, disk, encryption={"type": "EncryptionAtRestWithCustomerKey", "diskEncryptionSetId": SOUTH_DES}
    )
    assert _plan(cloud, item).disks[0].disk_encryption_set_id == SOUTH_DES
    body = _body(cloud, item)
    assert body["vmManagedDisks"][0]["recoveryDiskEncryptionSetId"] == SOUTH_DES
    assert "diskEncryptionInfo" not in body


def test_a_cmk_vm_uses_the_items_primary_set_when_the_original_disk_cannot_be_read(cloud, item, disk):
    _des(cloud, disk)
    assert _body(cloud, item)["vmManagedDisks"][0]["recoveryDiskEncryptionSetId"] == SOUTH_DES


@pytest.mark.parametrize(
    ("des_location", "vault", "why"),
    [
        ("ukwest", SOUTH_KV, "is in ukwest"),
        ("uksouth", WEST_KV, "the key vault of disk encryption set"),
        ("uksouth", f"{SUB}/resourceGroups/gone/{KV}/gone", "does not exist"),
    ],
)
def test_a_cmk_vm_whose_set_or_its_vault_is_not_in_the_target_region_is_refused(
    cloud, item, disk, des_location, vault, why
):
    _des(cloud, disk, des_location=des_location, vault=vault)
    code, message = _refusal(cloud, item)
    assert code == "encryption_keys_unavailable"
    assert why in message


def test_a_missing_disk_encryption_set_is_refused(cloud, item, disk):
    disk.update(primaryDiskEncryptionSetId=SOUTH_DES)
    code, message = _refusal(cloud, item)
    assert code == "encryption_keys_unavailable"
    assert "does not exist" in message


def test_a_cmk_vm_with_only_the_failed_over_set_known_is_refused(cloud, item, disk):
    disk.update(recoveryDiskEncryptionSetId=WEST_DES)
    code, message = _refusal(cloud, item)
    assert code == "encryption_keys_unavailable"
    assert "no disk encryption set is known in uksouth" in message


def test_an_unmanaged_disk_vm_is_refused_with_what_to_do(cloud, item):
    details = item["properties"]["providerSpecificDetails"]
    details["protectedDisks"] = [{"diskUri": "https://acct.blob.core.windows.net/vhds/os.vhd"}]
    details["protectedManagedDisks"] = None
    code, message = _refusal(cloud, item)
    assert code == "unmanaged_disks_not_supported"
    assert "30 September 2025" in message
    assert "managed disks" in message


SCALE_SET = f"{SUB}/resourceGroups/vijami-alertrg/providers/Microsoft.Compute/virtualMachineScaleSets/web-flex"


def _in_scale_set(cloud, item) -> None:
    vm = cloud.resources[item["properties"]["providerSpecificDetails"]["fabricObjectId"].lower()]
    vm["properties"]["virtualMachineScaleSet"] = {"id": SCALE_SET}


def test_a_scale_set_member_goes_back_into_its_scale_set(cloud, item):
    _in_scale_set(cloud, item)
    cloud.add_resource(SCALE_SET, location="uksouth")
    assert _plan(cloud, item).scale_set.id == SCALE_SET
    assert _body(cloud, item)["recoveryVirtualMachineScaleSetId"] == SCALE_SET


def test_a_vm_whose_scale_set_is_gone_is_refused(cloud, item):
    _in_scale_set(cloud, item)
    assert _refusal(cloud, item)[0] == "scale_set_not_found"


def test_a_plan_stored_before_encryption_was_planned_still_loads(cloud, item):
    from app.job.plan import ReprotectPlan

    stored = _plan(cloud, item).to_json()
    del stored["scale_set"]
    for entry in stored["disks"]:
        for key in ("disk_type", "disk_encryption_set_id", "ade_secret_url", "ade_secret_vault_id"):
            del entry[key]
    assert ReprotectPlan.from_json(stored).disks[0].ade_secret_url is None
