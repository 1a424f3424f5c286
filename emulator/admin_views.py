"""JSON of the admin API: the scenario as clients need it to find ids, and one item's details."""

from __future__ import annotations

from typing import Any

from emulator import arm_resources as arm
from emulator import ids
from emulator import simulation as sim
from emulator.runtime_view import RuntimeView
from emulator.state import Item, Vault, World
from emulator.views_asr import container_id, fabric_id
from emulator.views_item import item_id


def source_vm_status(world: World, vault: Vault, item: Item) -> str:
    """present | moved | deleted: where the VM the item protects (``fabricObjectId``) is."""
    if world.get(item.source_vm_id) is not None:
        return "present"
    ref = ids.parse(item.source_vm_id)
    location = vault.fabrics[item.fabric.lower()].location
    if ref is not None:
        for vm in world.of_type(arm.VM, ref.subscription):
            same_vm = vm.name.lower() == ref.name.lower() and vm.location.lower() == location.lower()
            if same_vm and not ids.same(vm.id, item.running_vm_id):
                return "moved"
    return "deleted"


def item_summary(world: World, vault: Vault, item: Item, now: float) -> dict[str, Any]:
    """One item in ``/_emulator/scenario``."""
    fabric = vault.fabrics[item.fabric.lower()]
    return {
        "id": item_id(vault, item),
        "name": item.name,
        "vm_name": item.vm_name,
        "protection_state": item.protection_state,
        "active_location": item.active_location,
        "source_vm": source_vm_status(world, vault, item),
        "source_vm_id": item.source_vm_id,  # fabricObjectId: may lie in another subscription than the vault
        "running_vm_id": item.running_vm_id,
        "fabric": fabric.name,
        "container": fabric.container,
        "location": fabric.location,
        "current_job": item.scenario_job_id,
        "last_job": item.last_job,
        "test_failover_state": item.test_failover_state,
        "test_vm_id": item.test_vm_id,
        "resync_percent": sim.resync_percent(now - item.resync_start, item.resync_s)
        if item.resync_start is not None
        else None,
    }


def describe_scenario(emulator: RuntimeView) -> dict[str, Any]:
    """Subscriptions, vaults, fabrics and items with their current ids."""
    world = emulator.world
    now = emulator.engine.advance()
    subscriptions = []
    for sub in world.subscriptions.values():
        vaults = []
        for vault in world.vaults.values():
            if vault.subscription.lower() != sub.lower():
                continue
            vaults.append(
                {
                    "id": ids.arm_vault_id(vault.subscription, vault.group, vault.name),
                    "name": vault.name,
                    "resource_group": vault.group,
                    "location": vault.location,
                    "fabrics": [
                        {
                            "id": fabric_id(vault, f),
                            "name": f.name,
                            "location": f.location,
                            "friendly_name": f.friendly_name,
                            "containers": [container_id(vault, f)],
                        }
                        for f in vault.fabrics.values()
                    ],
                    "items": [item_summary(world, vault, i, now) for i in vault.items.values()],
                }
            )
        subscriptions.append({"id": sub, "vaults": vaults})
    return {
        "name": world.name,
        "time_scale": emulator.clock.time_scale,
        "now": now,
        "outages": sorted(world.outages),
        "subscriptions": subscriptions,
    }


def item_details(emulator: RuntimeView, name: str) -> dict[str, Any] | None:
    """An item's summary plus the artifacts its last reprotect used or created."""
    now = emulator.engine.advance()
    for vault in emulator.world.vaults.values():
        item = vault.item(name)
        if item is not None:
            summary = item_summary(emulator.world, vault, item, now)
            return {
                **summary,
                "vault_id": ids.arm_vault_id(vault.subscription, vault.group, vault.name),
                "artifacts": item.artifacts,
            }
    return None
