"""The legacy ``reProtect`` action (ReverseReplicationInput, A2A unmanaged disks) on a scenario file with
an unmanaged-disk VM: a missing target storage account is created as ``<original>asr``."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from azure.core.exceptions import HttpResponseError

from emulator.app import create_app
from tests.emulator.support import arm_get, sdk_client, serve_in_thread

SCENARIO = Path(__file__).parent / "scenarios" / "legacy.yaml"
SUB = "0b5d2c1e-7a3f-4e8b-9c6d-1f2e3a4b5c6d"
RG, VAULT = "legacy-dr-rg", "legacy-vault"
EA, EA_C = "asr-a2a-default-eastasia", "asr-a2a-default-eastasia-container"
VAULT_ID = f"/Subscriptions/{SUB}/resourceGroups/{RG}/providers/Microsoft.RecoveryServices/vaults/{VAULT}"


@pytest.fixture(scope="module")
def legacy_url() -> Iterator[str]:
    """The emulator on the legacy scenario, in this process (uvicorn on a thread, real HTTP)."""
    with serve_in_thread(create_app(str(SCENARIO), 50000, 2)) as url:
        yield url


def _reverse_input(item: dict, **disk: str) -> dict:
    a2a = item["properties"]["providerSpecificDetails"]
    cache = f"/subscriptions/{SUB}/resourceGroups/legacy-rg-asr/providers/Microsoft.Storage/storageAccounts/legacycacheasrcache"
    disks = [
        {"diskUri": d["recoveryDiskUri"], "primaryStagingAzureStorageAccountId": cache, **disk}
        for d in a2a.get("protectedDisks") or []
    ]
    return {
        "properties": {
            "failoverDirection": "RecoveryToPrimary",
            "providerSpecificDetails": {
                "instanceType": "A2A",
                "recoveryContainerId": f"{VAULT_ID}/replicationFabrics/{EA}/replicationProtectionContainers/{EA_C}",
                "policyId": f"{VAULT_ID}/replicationPolicies/back-policy",
                "recoveryResourceGroupId": f"/subscriptions/{SUB}/resourceGroups/legacy-rg",
                "vmDisks": disks,
            },
        }
    }


def test_legacy_reprotect_creates_the_asr_suffixed_target_account_for_unmanaged_disks(legacy_url):
    with sdk_client(legacy_url, SUB) as client:
        item = client.replication_protected_items.get(RG, VAULT, EA, EA_C, "legacy-01").as_dict()
        a2a = item["properties"]["providerSpecificDetails"]
        assert a2a["protectedManagedDisks"] is None
        assert "legacyappvhds.blob" in a2a["protectedDisks"][0]["recoveryDiskUri"]
        target = f"/subscriptions/{SUB}/resourceGroups/legacy-rg/providers/Microsoft.Storage/storageAccounts/legacyappvhdsasr"
        assert arm_get(client, target).status_code == 404
        moved = client.replication_protected_items.begin_reprotect(
            RG, VAULT, EA, EA_C, "legacy-01", _reverse_input(item)
        ).result(timeout=30)
        assert moved.properties.active_location == "Primary"
        account = arm_get(client, target)
        assert account.status_code == 200
        assert account.json()["location"] == "eastasia"
        disks = moved.properties.provider_specific_details.protected_disks
        assert disks[0].recovery_azure_storage_account_id.lower() == target.lower()
        stats = httpx.get(f"{legacy_url}/_emulator/stats").json()
        assert stats["calls_by_item"]["legacy-01"]["ReplicationProtectedItems_Reprotect"] == 1


def test_legacy_reprotect_of_a_managed_disk_vm_fails_the_job_without_managed_disk_details(legacy_url):
    with sdk_client(legacy_url, SUB) as client:
        item = client.replication_protected_items.get(RG, VAULT, EA, EA_C, "modern-01").as_dict()
        with pytest.raises(HttpResponseError) as caught:
            client.replication_protected_items.begin_reprotect(
                RG, VAULT, EA, EA_C, "modern-01", _reverse_input(item)
            ).result(timeout=30)
        assert caught.value.error.code == "28084"
        job = next(iter(client.replication_jobs.list(RG, VAULT, filter="State eq 'Failed'")))
        assert job.properties.errors[0].task_id == "ProtectReplicaTask"
