"""VMs of two subscriptions protected by a central vault in a third, reprotected through the API and the
real worker steps (real SDK over HTTP against the emulator's ``fleet:4:2:central``) all the way to protected:
their own resources are read in their own subscription, every ASR call goes to the vault's."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import text

from app.api.app import create_app
from app.bootstrap import Container, bootstrap
from emulator import fleet
from tests.api.conftest import make_key
from tests.conftest import TABLES, service_settings
from tests.drive import drive
from tests.emulator_process import running_emulator

HUB = fleet.central_subscription_id().lower()
VM_SUBS = {fleet.subscription_id(i).lower() for i in range(2)}


@pytest.fixture(scope="module")
def central_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    log_dir = tmp_path_factory.mktemp("central-api")
    with running_emulator(log_dir, seed=5, time_scale=20000, scenario="fleet:4:2:central") as url:
        yield url


@pytest.fixture
def central(central_url: str) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=central_url, timeout=10) as client:
        client.post("/_emulator/reset").raise_for_status()
        client.put("/_emulator/throttle", json={"enabled": False}).raise_for_status()
        yield client


@pytest.fixture
def box(database_url: str, central: httpx.Client) -> Iterator[Container]:
    container = bootstrap(service_settings(database_url, str(central.base_url)))
    with container.engine.begin() as connection:
        for table in TABLES:
            connection.execute(text(f"DELETE FROM {table}"))
    yield container
    container.close()


def _sub(arm_id: str) -> str:
    return arm_id.split("/")[2].lower()


def test_vms_of_two_other_subscriptions_reach_protected_through_a_central_vault(box, central):
    vault = next(v for s in central.get("/_emulator/scenario").json()["subscriptions"] for v in s["vaults"])
    assert _sub(vault["id"]) == HUB
    items = vault["items"]
    assert {_sub(i["source_vm_id"]) for i in items} == VM_SUBS
    headers = {"Authorization": f"Bearer {make_key(box)}"}
    with TestClient(create_app(box), headers=headers) as api:
        plan = api.post("/reprotect", params={"dry_run": "true"}, json={"vms": [{"item_id": items[0]["id"]}]})
        assert plan.status_code == 200, plan.text
        target_group = plan.json()["plans"][0]["target_resource_group"]
        assert (_sub(target_group["id"]), target_group["status"]) == (_sub(items[0]["source_vm_id"]), "existing")

        accepted = api.post(
            "/reprotect", json={"vms": [{"vault_id": vault["id"], "vm_name": i["name"]} for i in items]}
        )
        assert accepted.status_code == 202, accepted.text
        drive(box)
        jobs = [api.get(f"/jobs/{j['id']}").json() for j in accepted.json()["jobs"]]

    assert [j["state"] for j in jobs] == ["protected"] * 4
    assert {_sub(j["new_item_id"]) for j in jobs} == {HUB}
    stats = central.get("/_emulator/stats").json()
    for item in items:
        sent = stats["switch_protection_bodies"][item["name"]]
        assert len(sent) == 1
        details = sent[0]["properties"]["providerSpecificDetails"]
        vm_sub = _sub(item["source_vm_id"])
        assert _sub(details["recoveryResourceGroupId"]) == vm_sub  # the original VM's own group
        assert {_sub(d["diskId"]) for d in details["vmManagedDisks"]} == {vm_sub}
        assert {_sub(d["primaryStagingAzureStorageAccountId"]) for d in details["vmManagedDisks"]} == {vm_sub}
    counted = stats["by_subscription"]
    assert set(counted) == {HUB, *VM_SUBS}
    for vm_sub in VM_SUBS:  # VMs, groups, storage accounts of a VM are read in its subscription
        # The one write there: the cache account its two VMs share, which must be in the VM's subscription.
        assert counted[vm_sub]["writes"] == 1
        assert counted[vm_sub]["calls"]["ARM_StorageAccounts_Create"] == 1
        assert counted[vm_sub]["reads"] >= 2 * 2  # at least the original and the failed-over VM of its 2 VMs
        assert all(op.startswith(("ARM_", "ResourceHealth_")) for op in counted[vm_sub]["calls"])
        # The VMs are read by the list, in their own subscription (one paged list answers every VM check).
        assert counted[vm_sub]["calls"]["ARM_VirtualMachines_ListAll"] >= 1
    hub_calls = counted[HUB]["calls"]
    assert hub_calls["ReplicationProtectionContainers_SwitchProtection"] == 4
    assert not [op for op in hub_calls if op.startswith("ARM_")]  # nothing of a VM was looked for with the vault
