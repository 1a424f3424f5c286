"""A central DR vault (``fleet:N:S:central``): the vault in one subscription, its VMs, disks, groups and
networks in others, through the real SDK; reads are charged to the subscription in their path."""

from __future__ import annotations

import json
import random
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from azure.mgmt.recoveryservicessiterecovery import SiteRecoveryManagementClient
from azure.mgmt.storage import StorageManagementClient

from emulator import fleet
from emulator.builder import build_world
from emulator.scenario import ScenarioError, load
from tests.emulator.support import (
    ARM_SCOPE,
    Demo,
    LocalBearerTokenPolicy,
    StaticToken,
    advance,
    arm_get,
    item_json,
    sdk_client,
    submit,
    switch_body,
    vault_ids,
)
from tests.emulator_process import running_emulator

SCENARIO = "fleet:6:3:central"
HUB = fleet.central_subscription_id()
VM_SUBS = [fleet.subscription_id(i) for i in range(3)]


@pytest.fixture(scope="module")
def central_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with running_emulator(tmp_path_factory.mktemp("central"), seed=3, time_scale=1, scenario=SCENARIO) as url:
        yield url


@pytest.fixture
def central_admin(central_url: str) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=central_url, timeout=10) as client:
        client.post("/_emulator/reset").raise_for_status()
        client.put("/_emulator/throttle", json={"enabled": False}).raise_for_status()
        yield client


@pytest.fixture
def vault(central_admin: httpx.Client) -> Demo:
    """The central vault's ids (the same shape the demo's tests use)."""
    subs = central_admin.get("/_emulator/scenario").json()["subscriptions"]
    return vault_ids(next(v for s in subs for v in s["vaults"]))


@pytest.fixture
def hub_client(central_url: str) -> Iterator[SiteRecoveryManagementClient]:
    client = sdk_client(central_url, HUB)
    yield client
    client.close()


def _sub_of(arm_id: str) -> str:
    return arm_id.split("/")[2].lower()


def test_one_vault_in_its_own_subscription_protects_vms_of_every_other_subscription():
    world = build_world(load(SCENARIO), random.Random(1))
    assert len(world.subscriptions) == 4
    assert [v.subscription for v in world.vaults.values()] == [HUB]
    items = [i for v in world.vaults.values() for i in v.items.values()]
    assert len(items) == 6
    assert {_sub_of(i.source_vm_id) for i in items} == set(VM_SUBS)
    for item in items:
        vm_sub = _sub_of(item.source_vm_id)
        assert world.get(item.source_vm_id) is not None
        assert _sub_of(item.running_vm_id or "") == vm_sub  # the failed-over copy: the VM's (target) subscription
        assert _sub_of(item.recovery_rg_id) == vm_sub
        assert {_sub_of(d.disk_id) for d in item.disks} == {vm_sub}
        assert {_sub_of(d.staging_account_id or "") for d in item.disks} == {vm_sub}
        assert {_sub_of(n.network_id) for n in item.nics} == {vm_sub}
    assert not [r for r in world.resources.values() if _sub_of(r.id) == HUB.lower() and "virtualMachines" in r.id]


def test_the_item_points_into_the_vms_subscription_and_arm_answers_there(hub_client, vault):
    details = item_json(hub_client, vault, "vm-00002")["properties"]["providerSpecificDetails"]
    vm_sub = _sub_of(details["fabricObjectId"])
    assert vm_sub == VM_SUBS[1].lower()
    for key in ("recoveryFabricObjectId", "recoveryAzureResourceGroupId", "selectedRecoveryAzureNetworkId"):
        assert _sub_of(details[key]) == vm_sub, key
    assert {_sub_of(d["recoveryTargetDiskId"]) for d in details["protectedManagedDisks"]} == {vm_sub}
    assert arm_get(hub_client, details["fabricObjectId"]).status_code == 200
    in_the_vaults_subscription = details["fabricObjectId"].replace(vm_sub, HUB, 1)
    assert arm_get(hub_client, in_the_vaults_subscription).status_code == 404  # ResourceGroupNotFound there


def test_the_vault_maps_the_networks_of_each_vm_subscription(hub_client, vault):
    mappings = list(hub_client.replication_network_mappings.list(vault.rg, vault.vault))
    assert len(mappings) == 6  # both directions for each of the 3 subscriptions
    primaries = {_sub_of(m.properties.primary_network_id) for m in mappings}
    assert primaries == {s.lower() for s in VM_SUBS}
    assert all(_sub_of(m.properties.primary_network_id) == _sub_of(m.properties.recovery_network_id) for m in mappings)


def test_reads_are_charged_to_the_subscription_in_their_path(central_url, central_admin, hub_client, vault):
    central_admin.put("/_emulator/throttle", json={"reads": {"burst": 3, "per_second": 0.01}}).raise_for_status()
    vm_id = item_json(hub_client, vault, "vm-00001")["properties"]["providerSpecificDetails"]["fabricObjectId"]
    answers = [arm_get(hub_client, vm_id).status_code for _ in range(4)]  # the 4th: the VM's bucket is empty
    assert answers == [200, 200, 200, 429]
    assert list(hub_client.replication_fabrics.list(vault.rg, vault.vault))  # the vault's bucket has tokens
    other = sdk_client(central_url, VM_SUBS[1])
    try:
        assert arm_get(other, f"/subscriptions/{VM_SUBS[1]}/resourceGroups/fleet-net-rg").status_code == 200
    finally:
        other.close()
    counted = central_admin.get("/_emulator/stats").json()["by_subscription"]
    assert counted[VM_SUBS[0].lower()] == {
        "reads": 3,
        "writes": 0,
        "throttled": 1,
        "calls": {"ARM_VirtualMachines_Get": 3},
    }
    assert counted[HUB.lower()] == {
        "reads": 2,
        "writes": 0,
        "throttled": 0,
        "calls": {"ReplicationProtectedItems_Get": 1, "ReplicationFabrics_List": 1},
    }
    assert counted[VM_SUBS[1].lower()] == {
        "reads": 1,
        "writes": 0,
        "throttled": 0,
        "calls": {"ARM_ResourceGroups_Get": 1},
    }


def _create_cache_account(url: str, subscription: str, group: str, name: str) -> str:
    """A cache account created first with the Storage API, as the Azure CLI scenario does (ASR never creates it)."""
    credential = StaticToken()
    storage = StorageManagementClient(
        credential,
        subscription,
        base_url=url,
        authentication_policy=LocalBearerTokenPolicy(credential, ARM_SCOPE),
        retry_total=0,
        polling_interval=0,
    )
    body = {"location": "southeastasia", "kind": "StorageV2", "sku": {"name": "Standard_LRS"}}
    account = storage.storage_accounts.begin_create(group, name, body).result()
    storage.close()
    return str(account.id)


def test_switch_protection_in_the_central_vault_works_in_the_vms_subscription(
    hub_client, vault, central_admin, central_url
):
    item: dict[str, Any] = item_json(hub_client, vault, "vm-00003")
    vm_sub = _sub_of(item["properties"]["providerSpecificDetails"]["fabricObjectId"])
    running_group = item["properties"]["providerSpecificDetails"]["recoveryFabricObjectId"].split("/")[4]
    cache = _create_cache_account(central_url, vm_sub, running_group, "vm3cacheasrcache")
    submit(hub_client, vault, switch_body(vault, item, cache=cache))
    advance(central_admin, 60)
    record = central_admin.get("/_emulator/items/vm-00003").json()["artifacts"]
    assert _sub_of(record["target_resource_group"]["id"]) == vm_sub
    assert record["target_resource_group"]["action"] == "reused"
    assert {_sub_of(a["id"]) for a in record["cache_storage_accounts"]} == {vm_sub}
    advance(central_admin, 30000)
    moved = item_json(hub_client, vault, "vm-00003", east=False)
    assert moved["properties"]["protectionState"] == "Protected"
    assert moved["id"].split("/")[2].lower() == HUB.lower()  # the item stays in the vault
    details = moved["properties"]["providerSpecificDetails"]
    assert _sub_of(details["fabricObjectId"]) == vm_sub  # now the failed-over VM: still the VM's subscription
    assert _sub_of(details["recoveryAzureResourceGroupId"]) == vm_sub


def test_a_vm_or_mapping_naming_an_undeclared_subscription_is_refused(tmp_path):
    raw = fleet.generate(2, 1, central=True)
    raw["subscriptions"][0]["vaults"][0]["vms"][0]["subscription"] = "nowhere"
    path = tmp_path / "bad.json"
    path.write_text(json.dumps(raw))
    with pytest.raises(ScenarioError, match="subscription 'nowhere' is not declared"):
        load(str(path))
    raw = fleet.generate(2, 1, central=True)
    raw["subscriptions"][0]["vaults"][0]["vms"][0]["resource_group"] = "fleet-dr-rg-elsewhere"
    path.write_text(json.dumps(raw))
    with pytest.raises(ScenarioError, match="is not declared"):
        load(str(path))
