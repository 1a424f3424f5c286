"""Scenario loading: a built-in name (``demo``), a generated fleet (``fleet:N[:S][:central]``) or a YAML/JSON file.

A scenario is plain data (see README.md for the format); ``builder.build_world`` turns it into a world.
"""

from __future__ import annotations

import json
import re
from importlib import resources
from pathlib import Path
from typing import Any

import yaml

from emulator import fleet

VM_STATES = ("failover_committed", "failed_over_not_committed", "protected")
_FLEET = re.compile(r"^fleet:(\d+)(?::(\d+))?(:central)?$", re.IGNORECASE)


class ScenarioError(ValueError):
    """The scenario cannot be loaded or is inconsistent."""


def load(source: str) -> dict[str, Any]:
    """The scenario named by ``source``, validated."""
    match = _FLEET.match(source.strip())
    if match:
        raw = fleet.generate(int(match.group(1)), int(match.group(2) or 1), central=bool(match.group(3)))
    elif Path(source).is_file():
        raw = _parse(Path(source).read_text(encoding="utf-8"), source)
    else:
        raw = _builtin(source)
    validate(raw)
    return raw


def builtin_names() -> list[str]:
    """Names of the scenarios shipped with the emulator."""
    folder = resources.files("emulator") / "scenarios"
    return sorted(p.name.rsplit(".", 1)[0] for p in folder.iterdir() if p.name.endswith((".yaml", ".yml")))


def _builtin(name: str) -> dict[str, Any]:
    if not re.fullmatch(r"[A-Za-z0-9_-]+", name) or name not in builtin_names():
        raise ScenarioError(
            f"Unknown scenario '{name}': use a built-in name ({', '.join(builtin_names())}), "
            "fleet:N[:S][:central], or the path of a YAML/JSON file."
        )
    text = (resources.files("emulator") / "scenarios" / f"{name}.yaml").read_text(encoding="utf-8")
    return _parse(text, name)


def _parse(text: str, origin: str) -> dict[str, Any]:
    try:
        raw = json.loads(text) if text.lstrip().startswith("{") else yaml.safe_load(text)
    except (ValueError, yaml.YAMLError) as exc:
        raise ScenarioError(f"Scenario {origin} is not valid YAML/JSON: {exc}") from exc
    if not isinstance(raw, dict):
        raise ScenarioError(f"Scenario {origin} must be a mapping at the top level.")
    raw.setdefault("name", Path(origin).stem)
    return raw


def _need(obj: dict[str, Any], key: str, where: str) -> Any:
    if obj.get(key) in (None, ""):
        raise ScenarioError(f"{where}: '{key}' is required.")
    return obj[key]


def validate(raw: dict[str, Any]) -> None:
    """Check the fields the builder relies on; raise ``ScenarioError`` naming the first problem."""
    subs = raw.get("subscriptions")
    if not isinstance(subs, list) or not subs:
        raise ScenarioError("A scenario needs a non-empty 'subscriptions' list.")
    scale = raw.get("time_scale")
    if scale is not None and (not isinstance(scale, int | float) or scale <= 0):
        raise ScenarioError("'time_scale' must be a positive number.")
    groups_of = {
        str(_need(sub, "id", "subscription")).lower(): {
            str(g["name"]).lower() for g in sub.get("resource_groups", []) if "name" in g
        }
        for sub in subs
    }
    for sub in subs:
        sub_id = sub["id"]
        groups = groups_of[str(sub_id).lower()]
        for vault in sub.get("vaults", []):
            where = f"vault in subscription {sub_id}"
            for key in ("name", "resource_group", "location", "primary", "recovery"):
                _need(vault, key, where)
            if str(vault["resource_group"]).lower() not in groups:
                raise ScenarioError(f"{where}: resource group '{vault['resource_group']}' is not declared.")
            policies = {str(p["name"]).lower() for p in vault.get("policies", [])}
            for mapping in vault.get("container_mappings", []):
                if str(_need(mapping, "policy", f"container mapping of {vault['name']}")).lower() not in policies:
                    raise ScenarioError(f"{where}: container mapping uses unknown policy '{mapping['policy']}'.")
            for mapping in vault.get("network_mappings", []):
                _declared_subscription(mapping, groups_of, f"network mapping of {vault['name']}")
            for vm in vault.get("vms", []):
                where = f"VM in vault {vault['name']}"
                vm_sub = _declared_subscription(vm, groups_of, where)
                _validate_vm(vm, groups_of[vm_sub] if vm_sub else groups, where)


def _declared_subscription(obj: dict[str, Any], groups_of: dict[str, set[str]], where: str) -> str | None:
    """The folded ``subscription`` an object names (a central vault's VM or network mapping), if any."""
    named = obj.get("subscription")
    if named in (None, ""):
        return None
    if str(named).lower() not in groups_of:
        raise ScenarioError(f"{where}: subscription '{named}' is not declared in 'subscriptions'.")
    return str(named).lower()


def _validate_vm(vm: dict[str, Any], groups: set[str], where: str) -> None:
    name = _need(vm, "name", where)
    where = f"VM {name}"
    if str(_need(vm, "resource_group", where)).lower() not in groups:
        raise ScenarioError(f"{where}: resource group '{vm['resource_group']}' is not declared.")
    state = vm.get("state", "failover_committed")
    if state not in VM_STATES:
        raise ScenarioError(f"{where}: state must be one of {', '.join(VM_STATES)}, not '{state}'.")
    source = str(vm.get("source_vm", "present"))
    if source not in ("present", "deleted") and not source.startswith("moved:"):
        raise ScenarioError(f"{where}: source_vm must be present, deleted or moved:<resource group>.")
    encryption = str(vm.get("encryption") or "none").lower()
    if encryption not in ("none", "ade", "ade_kek", "des"):
        raise ScenarioError(f"{where}: encryption must be none, ade, ade_kek or des, not '{encryption}'.")
    disks = vm.get("disks")
    if not isinstance(disks, list) or not disks:
        raise ScenarioError(f"{where}: at least one disk (the OS disk) is required.")
    for disk in disks:
        _need(disk, "size_gib", f"{where} disk")
