"""Encrypted VMs in the emulator, through the unmodified SDK: the item shows ADE keys and disk encryption sets
as A2AProtectedManagedDiskDetails carries them, ARM serves the key vaults, disk encryption sets, disks and
scale sets they name, and switch protection refuses an encrypted disk sent without keys in the target region."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from azure.core.exceptions import HttpResponseError

from emulator.app import create_app
from tests.emulator.support import (
    Demo,
    advance,
    arm_get,
    asr_code,
    demo_ids,
    item_json,
    sdk_client,
    serve_in_thread,
    submit,
    switch_body,
)

SCENARIO = Path(__file__).parent / "scenarios" / "encrypted.yaml"
SUB = "3e1f5a7c-9b2d-4c6e-8f0a-1b3c5d7e9f2a"
EA_RG = f"/subscriptions/{SUB}/resourceGroups/enc-rg"
SEA_RG = f"/subscriptions/{SUB}/resourceGroups/enc-rg-asr"
CACHE = f"{SEA_RG}/providers/Microsoft.Storage/storageAccounts/encreprotectasrcache"


@pytest.fixture(scope="module")
def url() -> Iterator[str]:
    with serve_in_thread(create_app(str(SCENARIO), 1, 3)) as served:
        yield served


@pytest.fixture
def admin(url) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=url, timeout=10) as client:
        client.post("/_emulator/reset").raise_for_status()
        yield client


@pytest.fixture
def world(admin) -> Demo:
    return demo_ids(admin)


@pytest.fixture
def client(url):
    with sdk_client(url, SUB) as made:
        yield made


def test_an_ade_item_shows_its_keys_as_the_sdk_model_reads_them(client, world):
    model = client.replication_protected_items.get(
        world.rg, world.vault, world.ea_fabric, world.ea_container, world.items["kek-01"]["name"]
    )
    a2a = model.properties.provider_specific_details  # the SDK's A2AReplicationDetails
    assert a2a.vm_encryption_type == "OnePassEncrypted"
    disk = a2a.protected_managed_disks[0]  # A2AProtectedManagedDiskDetails
    assert disk.is_disk_encrypted is True
    assert disk.is_disk_key_encrypted is True
    assert disk.dek_key_vault_arm_id.endswith("/enc-rg-asr/providers/Microsoft.KeyVault/vaults/kek-01-kvasr")
    assert disk.secret_identifier.startswith("https://kek-01-kvasr.vault.azure.net/secrets/")
    assert disk.key_identifier.startswith("https://kek-01-kvasr.vault.azure.net/keys/kek-01-kek/")
    assert disk.kek_key_vault_arm_id == disk.dek_key_vault_arm_id


def test_a_cmk_item_shows_both_regions_disk_encryption_sets(client, world):
    disks = item_json(client, world, "des-01")["properties"]["providerSpecificDetails"]["protectedManagedDisks"]
    for disk in disks:
        assert (
            disk["primaryDiskEncryptionSetId"] == f"{EA_RG}/providers/Microsoft.Compute/diskEncryptionSets/des-01-des"
        )
        assert disk["recoveryDiskEncryptionSetId"].endswith(
            "/enc-rg-asr/providers/Microsoft.Compute/diskEncryptionSets/des-01-desasr"
        )
        assert disk["isDiskEncrypted"] is False


def test_arm_serves_the_key_vaults_sets_disks_and_scale_set_they_name(client):
    vault = arm_get(client, f"{EA_RG}/providers/Microsoft.KeyVault/vaults/ade-01-kv").json()
    assert (vault["location"], vault["properties"]["enabledForDiskEncryption"]) == ("eastasia", True)
    des = arm_get(client, f"{EA_RG}/providers/Microsoft.Compute/diskEncryptionSets/des-01-des").json()
    assert des["location"] == "eastasia"
    assert des["properties"]["activeKey"]["sourceVault"]["id"].endswith("/vaults/des-01-deskv")
    vm = arm_get(client, f"{EA_RG}/providers/Microsoft.Compute/virtualMachines/ade-01").json()
    os_disk_id = vm["properties"]["storageProfile"]["osDisk"]["managedDisk"]["id"]
    os_disk = arm_get(client, os_disk_id).json()["properties"]
    entry = os_disk["encryptionSettingsCollection"]["encryptionSettings"][0]
    assert entry["diskEncryptionKey"]["sourceVault"]["id"] == f"{EA_RG}/providers/Microsoft.KeyVault/vaults/ade-01-kv"
    des_vm = arm_get(client, f"{EA_RG}/providers/Microsoft.Compute/virtualMachines/des-01").json()
    des_disk = arm_get(client, des_vm["properties"]["storageProfile"]["osDisk"]["managedDisk"]["id"]).json()
    assert des_disk["properties"]["encryption"]["diskEncryptionSetId"].endswith("/diskEncryptionSets/des-01-des")
    flex = arm_get(client, f"{EA_RG}/providers/Microsoft.Compute/virtualMachines/flex-01").json()
    scale_set = flex["properties"]["virtualMachineScaleSet"]["id"]
    assert arm_get(client, scale_set).json()["properties"]["orchestrationMode"] == "Flexible"


def _body(world: Demo, item: dict, **details: object) -> dict:
    policy = f"{world.vault_id}/replicationPolicies/back-policy"
    return switch_body(world, item, cache=CACHE, policyId=policy, **details)


def _refused(client, world, body) -> str:
    with pytest.raises(HttpResponseError) as caught:
        submit(client, world, body)
    assert caught.value.status_code == 400
    assert caught.value.error.code == "BadRequest"
    return asr_code(caught.value)


def _ade_info(vault: str, secret: str = "https://x.vault.azure.net/secrets/s/1") -> dict:
    return {"diskEncryptionKeyInfo": {"secretIdentifier": secret, "keyVaultResourceArmId": vault}}


def test_switch_protection_refuses_an_ade_vm_sent_without_keys_or_with_keys_elsewhere(client, world):
    item = item_json(client, world, "ade-01")
    assert _refused(client, world, _body(world, item)) == "28060"
    recovery_vault = f"{SEA_RG}/providers/Microsoft.KeyVault/vaults/ade-01-kvasr"
    body = _body(world, item, diskEncryptionInfo=_ade_info(recovery_vault))
    assert _refused(client, world, body) == "28060"
    assert item_json(client, world, "ade-01")["properties"]["protectionState"] == "UnplannedFailoverCommitted"


def test_switch_protection_refuses_a_kek_vm_sent_without_its_key_encryption_key(client, world):
    item = item_json(client, world, "kek-01")
    body = _body(world, item, diskEncryptionInfo=_ade_info(f"{EA_RG}/providers/Microsoft.KeyVault/vaults/kek-01-kv"))
    assert _refused(client, world, body) == "28060"


def test_switch_protection_refuses_a_cmk_vm_sent_without_a_target_disk_encryption_set(client, world):
    item = item_json(client, world, "des-01")
    assert _refused(client, world, _body(world, item)) == "28060"


def test_a_cmk_vm_sent_with_its_original_set_is_reprotected_and_keeps_it(client, world, admin):
    item = item_json(client, world, "des-01")
    body = _body(world, item)
    des = f"{EA_RG}/providers/Microsoft.Compute/diskEncryptionSets/des-01-des"
    for disk in body["properties"]["providerSpecificDetails"]["vmManagedDisks"]:
        disk["recoveryDiskEncryptionSetId"] = des
    submit(client, world, body)
    advance(admin, 6 * 3600)
    moved = item_json(client, world, "des-01", east=False)["properties"]["providerSpecificDetails"]
    assert [d["recoveryDiskEncryptionSetId"] for d in moved["protectedManagedDisks"]] == [des, des]
    assert moved["protectedManagedDisks"][0]["primaryDiskEncryptionSetId"].endswith("/des-01-desasr")
