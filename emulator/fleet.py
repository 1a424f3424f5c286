"""``fleet:N[:S][:central]``: N failed-over, committed VMs over S subscriptions, small disks.

Plain: one vault in each subscription, protecting that subscription's VMs. ``central``: one central DR vault
in a subscription of its own protecting the VMs of all S subscriptions (a source VM may be in any
subscription of the vault's tenant, as the portal's enable-replication page says).

With a vault per subscription, even-numbered subscriptions (index 0, 2, ...) hold a cache storage account in the
vault's resource group already; in odd ones, and under a central vault, the first reprotect has the service
create one (Site Recovery itself never does)."""

from __future__ import annotations

import uuid
from typing import Any

FLEET_TIME_SCALE = 800.0  # a fleet VM's reprotect (~40 min simulated) takes ~3 s
_NAMESPACE = uuid.UUID("6f1c2d7e-3b4a-4c5d-8e9f-0a1b2c3d4e5f")
VMS_PER_GROUP = 50


def subscription_id(index: int) -> str:
    """A stable subscription id for the fleet's ``index``-th subscription."""
    return str(uuid.uuid5(_NAMESPACE, f"fleet-subscription-{index}"))


def central_subscription_id() -> str:
    """The subscription holding the central vault of ``fleet:N:S:central`` (none of its VMs live there)."""
    return str(uuid.uuid5(_NAMESPACE, "fleet-central-vault-subscription"))


def generate(vms: int, subscriptions: int = 1, *, central: bool = False) -> dict[str, Any]:
    """The fleet scenario as plain data (same format as a YAML scenario)."""
    if vms < 1 or subscriptions < 1:
        raise ValueError("fleet:N[:S] needs N >= 1 and S >= 1")
    subs = [_subscription(i, with_vault=not central) for i in range(subscriptions)]
    hub = _central(subs) if central else None
    local_counts = [0] * subscriptions
    for n in range(vms):
        index = n % subscriptions
        sub = subs[index]
        local = local_counts[index]
        local_counts[index] += 1
        group = f"fleet-app-rg-{local // VMS_PER_GROUP:03d}"
        if local % VMS_PER_GROUP == 0:
            sub["resource_groups"] += [
                {"name": group, "location": "eastasia"},
                {"name": f"{group}-asr", "location": "southeastasia"},
            ]
        vm = {
            "name": f"vm-{n + 1:05d}",
            "resource_group": group,
            "size": "Standard_B2s",
            "os": "Linux",
            "vnet": "fleet-vnet-ea",
            "ip": f"10.50.{(local // 250) % 250}.{local % 250 + 4}",
            "enable_replication_minutes": 10,
            "disks": [{"size_gib": 32, "sku": "StandardSSD_LRS", "changed_gib": 1}],
        }
        if hub is not None:
            hub["vaults"][0]["vms"].append({**vm, "subscription": sub["id"]})
        else:
            sub["vaults"][0]["vms"].append(vm)
    name = f"fleet:{vms}:{subscriptions}" + (":central" if central else "")
    all_subs = [hub, *subs] if hub is not None else subs
    return {"name": name, "time_scale": FLEET_TIME_SCALE, "subscriptions": all_subs}


def _central(subs: list[dict[str, Any]]) -> dict[str, Any]:
    """The central vault's subscription: the vault, and network mappings for every VM subscription's vnets."""
    vault = _vault("fleet-central-vault")
    vault["network_mappings"] = [
        mapping
        for i, sub in enumerate(subs)
        for mapping in (
            {
                "name": f"fleet-{i:02d}-ea-sea",
                "subscription": sub["id"],
                "from_vnet": "fleet-vnet-ea",
                "to_vnet": "fleet-vnet-sea",
            },
            {
                "name": f"fleet-{i:02d}-sea-ea",
                "subscription": sub["id"],
                "from_vnet": "fleet-vnet-sea",
                "to_vnet": "fleet-vnet-ea",
            },
        )
    ]
    return {
        "id": central_subscription_id(),
        "resource_groups": [{"name": "fleet-dr-rg", "location": "southeastasia"}],
        "vaults": [vault],
    }


def _subscription(index: int, *, with_vault: bool = True) -> dict[str, Any]:
    # Even-numbered subscriptions (so a one-subscription fleet too) already have a cache account for the way
    # back in the vault's resource group (where the portal puts it); odd ones' first reprotect creates one.
    existing_cache = [
        {"name": f"fleetsub{index:03d}asrcache", "resource_group": "fleet-dr-rg", "location": "southeastasia"}
    ]
    return {
        "id": subscription_id(index),
        "storage_accounts": existing_cache if index % 2 == 0 and with_vault else [],
        "resource_groups": [
            {"name": "fleet-dr-rg", "location": "southeastasia"},
            {"name": "fleet-net-rg", "location": "eastasia"},
            {"name": "fleet-net-rg-asr", "location": "southeastasia"},
        ],
        "virtual_networks": [
            {
                "name": "fleet-vnet-ea",
                "resource_group": "fleet-net-rg",
                "location": "eastasia",
                "address_prefix": "10.50.0.0/16",
            },
            {
                "name": "fleet-vnet-sea",
                "resource_group": "fleet-net-rg-asr",
                "location": "southeastasia",
                "address_prefix": "10.60.0.0/16",
            },
        ],
        "vaults": [_vault(f"fleet-vault-{index + 1:02d}")] if with_vault else [],
    }


def _vault(name: str) -> dict[str, Any]:
    return {
        "name": name,
        "resource_group": "fleet-dr-rg",
        "location": "southeastasia",
        "primary": {"location": "eastasia", "friendly_name": "East Asia"},
        "recovery": {"location": "southeastasia", "friendly_name": "Southeast Asia"},
        "policies": [
            {"name": "24-hour-retention-policy"},
            {"name": "24-hour-retention-policy-failback"},
        ],
        "container_mappings": [
            {"from": "eastasia", "to": "southeastasia", "policy": "24-hour-retention-policy"},
            {
                "from": "southeastasia",
                "to": "eastasia",
                "policy": "24-hour-retention-policy-failback",
            },
        ],
        "network_mappings": [
            {"from_vnet": "fleet-vnet-ea", "to_vnet": "fleet-vnet-sea"},
            {"from_vnet": "fleet-vnet-sea", "to_vnet": "fleet-vnet-ea"},
        ],
        "vms": [],
    }
