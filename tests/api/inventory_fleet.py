"""The inventory tests' fleet: ``fleet:250:2`` (two vaults in two subscriptions, East Asia -> Southeast Asia,
125 committed VMs each) plus a third subscription's vault in West Europe -> North Europe with one VM in each
other state (still protected, failover not committed, original VM deleted) and two committed ones."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

from emulator import fleet

WEST = {"eastasia": "westeurope", "southeastasia": "northeurope"}
FRIENDLY = {"westeurope": "West Europe", "northeurope": "North Europe"}


def _moved(obj: Any) -> Any:
    """``obj`` with every East Asia / Southeast Asia location moved to West Europe / North Europe."""
    if isinstance(obj, dict):
        out = {k: _moved(v) for k, v in obj.items()}
        if "location" in out and out["location"] in FRIENDLY:
            out.setdefault("friendly_name", None)
            if out["friendly_name"] is not None:
                out["friendly_name"] = FRIENDLY[out["location"]]
            else:
                del out["friendly_name"]
        return out
    if isinstance(obj, list):
        return [_moved(v) for v in obj]
    if isinstance(obj, str):
        return WEST.get(obj, obj)
    return obj


def scenario() -> dict[str, Any]:
    """The scenario as plain data."""
    base = fleet.generate(250, 2)
    third = _moved(copy.deepcopy(fleet.generate(15, 3)["subscriptions"][2]))
    third["storage_accounts"] = [
        {"name": "westfleetasrcache", "resource_group": "fleet-dr-rg", "location": "northeurope"}
    ]
    vms = third["vaults"][0]["vms"]
    states = ["protected", "failed_over_not_committed", None, None, None]
    for n, (vm, state) in enumerate(zip(vms, states, strict=True)):
        vm["name"] = f"west-{n + 1:02d}"
        if state:
            vm["state"] = state
    vms[2]["source_vm"] = "deleted"
    third["vaults"][0]["name"] = "west-vault"
    base["subscriptions"].append(third)
    base["name"] = "inventory-fleet"
    return base


def write(folder: Path) -> str:
    """The scenario as a JSON file in ``folder``; its path."""
    path = folder / "inventory-fleet.json"
    path.write_text(json.dumps(scenario()), encoding="utf-8")
    return str(path)
