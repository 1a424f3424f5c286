"""Encrypted VMs and a scale-set member reprotected through the API and the real worker steps, with the real
SDK against the emulator (encrypted scenario): the keys reach Azure as PowerShell sends them, checked in the
switch-protection bodies the emulator received, and each VM ends protected."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.drive import drive
from tests.emulator_process import running_emulator

SCENARIO = Path(__file__).resolve().parent.parent / "emulator" / "scenarios" / "encrypted.yaml"
SUB = "3e1f5a7c-9b2d-4c6e-8f0a-1b3c5d7e9f2a"
EA_RG = f"/subscriptions/{SUB}/resourceGroups/enc-rg"
CACHE = (
    f"/subscriptions/{SUB}/resourceGroups/enc-rg-asr/providers/Microsoft.Storage/storageAccounts/encreprotectasrcache"
)


@pytest.fixture(scope="module")
def emulator_url(tmp_path_factory) -> Iterator[str]:
    """This module's emulator: the encrypted scenario, fast clock (overrides the session's demo one)."""
    with running_emulator(
        tmp_path_factory.mktemp("emulator-encrypted"), seed=5, time_scale=20000, scenario=str(SCENARIO)
    ) as url:
        yield url


def _items(emulator) -> dict[str, dict[str, Any]]:
    vault = emulator.get("/_emulator/scenario").json()["subscriptions"][0]["vaults"][0]
    return {i["vm_name"]: i for i in vault["items"]}


def _reprotect(api, container, emulator, vm: str) -> tuple[dict[str, Any], dict[str, Any]]:
    item = _items(emulator)[vm]
    accepted = api.post("/reprotect", json={"vms": [{"item_id": item["id"], "cache_storage_account_id": CACHE}]})
    assert accepted.status_code == 202, accepted.text
    drive(container)
    job = api.get(f"/jobs/{accepted.json()['jobs'][0]['id']}").json()
    bodies = emulator.get("/_emulator/stats").json()["switch_protection_bodies"][item["name"]]
    assert len(bodies) == 1
    return job, bodies[0]["properties"]["providerSpecificDetails"]


def test_an_ade_vm_is_reprotected_with_its_original_keys(api, container, emulator):
    job, sent = _reprotect(api, container, emulator, "kek-01")
    assert job["state"] == "protected", job
    vault = f"{EA_RG}/providers/Microsoft.KeyVault/vaults/kek-01-kv"
    info = sent["diskEncryptionInfo"]
    assert info["diskEncryptionKeyInfo"]["keyVaultResourceArmId"].lower() == vault.lower()
    assert info["diskEncryptionKeyInfo"]["secretIdentifier"].startswith("https://kek-01-kv.vault.azure.net/secrets/")
    assert info["keyEncryptionKeyInfo"]["keyVaultResourceArmId"].lower() == vault.lower()
    assert info["keyEncryptionKeyInfo"]["keyIdentifier"].startswith(
        "https://kek-01-kv.vault.azure.net/keys/kek-01-kek/"
    )
    assert [d["diskEncryptionInfo"] for d in sent["vmManagedDisks"]] == [info]
    assert all("recoveryDiskEncryptionSetId" not in d for d in sent["vmManagedDisks"])


def test_a_cmk_vm_is_reprotected_with_its_original_disk_encryption_set(api, container, emulator):
    job, sent = _reprotect(api, container, emulator, "des-01")
    assert job["state"] == "protected", job
    des = f"{EA_RG}/providers/Microsoft.Compute/diskEncryptionSets/des-01-des"
    assert [d["recoveryDiskEncryptionSetId"].lower() for d in sent["vmManagedDisks"]] == [des.lower()] * 2
    assert "diskEncryptionInfo" not in sent


def test_a_scale_set_member_goes_back_into_its_scale_set(api, container, emulator):
    job, sent = _reprotect(api, container, emulator, "flex-01")
    assert job["state"] == "protected", job
    scale_set = f"{EA_RG}/providers/Microsoft.Compute/virtualMachineScaleSets/web-flex"
    assert sent["recoveryVirtualMachineScaleSetId"].lower() == scale_set.lower()
    assert job["plan"]["scale_set"]["id"].lower() == scale_set.lower()


def test_a_dry_run_names_the_key_vault_an_ade_vm_goes_back_with(api, container, emulator):
    item = _items(emulator)["ade-01"]
    plan = api.post("/reprotect", params={"dry_run": "true"}, json={"vms": [{"item_id": item["id"]}]}).json()
    disks = plan["plans"][0]["disks"]
    vault = f"{EA_RG}/providers/Microsoft.KeyVault/vaults/ade-01-kv"
    assert [d["ade_secret_vault_id"].lower() for d in disks] == [vault.lower()] * 2
