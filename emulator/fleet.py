"""``fleet:N[:S]``: N failed-over, committed VMs over S subscriptions (one vault each), small disks.

Odd-numbered subscriptions hold a cache storage account in the vault's resource group already; in the
others the first reprotect creates one (Site Recovery itself never does)."""

from __future__ import annotations

import uuid
from typing import Any

FLEET_TIME_SCALE = 800.0  # a fleet VM's reprotect (~40 min simulated) takes ~3 s
_NAMESPACE = uuid.UUID("6f1c2d7e-3b4a-4c5d-8e9f-0a1b2c3d4e5f")
VMS_PER_GROUP = 50


def subscription_id(index: int) -> str:
    """A stable subscription id for the fleet's ``index``-th subscription."""
    return str(uuid.uuid5(_NAMESPACE, f"fleet-subscription-{index}"))


def generate(vms: int, subscriptions: int = 1) -> dict[str, Any]:
    """The fleet scenario as plain data (same format as a YAML scenario)."""
    if vms < 1 or subscriptions < 1:
        raise ValueError("fleet:N[:S] needs N >= 1 and S >= 1")
    subs = [_subscription(i) for i in range(subscriptions)]
    for n in range(vms):
        sub = subs[n % subscriptions]
        vault = sub["vaults"][0]
        local = len(vault["vms"])
        group = f"fleet-app-rg-{local // VMS_PER_GROUP:03d}"
        if local % VMS_PER_GROUP == 0:
            sub["resource_groups"] += [
                {"name": group, "location": "eastasia"},
                {"name": f"{group}-asr", "location": "southeastasia"},
            ]
        vault["vms"].append(
            {
                "name": f"vm-{n + 1:05d}",
                "resource_group": group,
                "size": "Standard_B2s",
                "os": "Linux",
                "vnet": "fleet-vnet-ea",
                "ip": f"10.50.{(local // 250) % 250}.{local % 250 + 4}",
                "enable_replication_minutes": 10,
                "disks": [{"size_gib": 32, "sku": "StandardSSD_LRS", "changed_gib": 1}],
            }
        )
    return {"name": f"fleet:{vms}:{subscriptions}", "time_scale": FLEET_TIME_SCALE, "subscriptions": subs}


def _subscription(index: int) -> dict[str, Any]:
    # Every second subscription already has a cache account for the way back in its vault's resource group
    # (where the portal puts it); the others' first reprotect has the service create one.
    existing_cache = [
        {"name": f"fleetsub{index:03d}asrcache", "resource_group": "fleet-dr-rg", "location": "southeastasia"}
    ]
    return {
        "id": subscription_id(index),
        "storage_accounts": existing_cache if index % 2 else [],
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
        "vaults": [
            {
                "name": f"fleet-vault-{index + 1:02d}",
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
        ],
    }
