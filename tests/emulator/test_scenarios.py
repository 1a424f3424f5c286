"""Scenario loading: the built-in demo's mix of VMs, generated fleets, files, and clear errors."""

from __future__ import annotations

import json
import random
from pathlib import Path

import pytest

from emulator import arm_resources as arm
from emulator.builder import build_world
from emulator.routes_reprotect import parse_request
from emulator.runtime import Emulator
from emulator.scenario import ScenarioError, load

SCENARIOS = Path(__file__).parent / "scenarios"


def _items(world):
    return [i for v in world.vaults.values() for i in v.items.values()]


def test_the_demo_has_committed_uncommitted_moved_deleted_and_protected_vms():
    raw = load("demo")
    world = build_world(raw, random.Random(1))
    items = {i.vm_name: i for i in _items(world)}
    assert len(items) >= 8
    committed = [i for i in items.values() if i.protection_state == "UnplannedFailoverCommitted"]
    assert len(committed) >= 4
    assert "Commit" in items["batch-01"].allowed_operations
    assert "SwitchProtection" not in items["batch-01"].allowed_operations
    assert items["intranet-01"].protection_state == "Protected"
    assert items["intranet-01"].active_location == "Primary"
    assert world.get(items["hr-01"].source_vm_id) is None
    moved = [v for v in world.of_type(arm.VM, items["crm-01"].source_vm_id.split("/")[2]) if v.name == "crm-01"]
    assert {v.id.split("/")[4] for v in moved} == {"contoso-archive-rg", "contoso-app-rg-asr"}
    assert items["web-01"].recovery_avset_id
    assert len(items["app-01"].disks) == 3
    assert raw["time_scale"] == 500


def test_the_demo_is_the_same_for_the_same_seed():
    first = build_world(load("demo"), random.Random(5))
    second = build_world(load("demo"), random.Random(5))
    assert [i.guids for i in _items(first)] == [i.guids for i in _items(second)]


def test_a_fleet_spreads_committed_vms_over_subscriptions_with_one_vault_each():
    raw = load("fleet:10:3")
    world = build_world(raw, random.Random(1))
    assert len(world.subscriptions) == 3
    assert len(world.vaults) == 3
    items = _items(world)
    assert len(items) == 10
    assert {i.protection_state for i in items} == {"UnplannedFailoverCommitted"}
    assert raw["time_scale"] > 100
    assert len({v.subscription for v in world.vaults.values()}) == 3


def test_a_scenario_file_loads_in_yaml_and_json(tmp_path):
    yaml_file = SCENARIOS / "legacy.yaml"
    assert load(str(yaml_file))["name"] == "legacy"
    as_json = tmp_path / "copy.json"
    as_json.write_text(json.dumps(load(str(yaml_file))))
    assert load(str(as_json))["subscriptions"]


def test_unknown_names_and_inconsistent_files_are_refused_with_a_reason(tmp_path):
    with pytest.raises(ScenarioError, match="Unknown scenario"):
        load("nope")
    bad = tmp_path / "bad.yaml"
    bad.write_text("subscriptions:\n  - id: s\n    resource_groups: []\n    vaults:\n      - name: v\n")
    with pytest.raises(ScenarioError, match="resource_group"):
        load(str(bad))
    state = tmp_path / "state.yaml"
    state.write_text(
        "subscriptions:\n  - id: s\n    resource_groups: [{name: g, location: eastasia}]\n    vaults:\n"
        "      - {name: v, resource_group: g, location: southeastasia, primary: {location: eastasia},\n"
        "         recovery: {location: southeastasia},\n"
        "         vms: [{name: x, resource_group: g, state: gone, disks: [{size_gib: 1}]}]}\n"
    )
    with pytest.raises(ScenarioError, match="state must be"):
        load(str(state))


def test_the_same_seed_and_requests_give_the_same_job_names_and_durations():
    def run(seed: int) -> tuple[str, float]:
        emulator = Emulator("demo", 1, seed)
        vault = next(iter(emulator.world.vaults.values()))
        item = vault.items["web-01"]
        details = {
            "recoveryContainerId": "x",
            "policyId": "p",
            "vmManagedDisks": [{"diskId": d.recovery_target_disk_id} for d in item.disks],
        }
        job = emulator.engine.submit(vault, item, parse_request(details, legacy=False))
        return job.name, job.plan.durations["ProtectReplicaTask"]

    assert run(4) == run(4)
    assert run(4) != run(5)
