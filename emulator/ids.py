"""ARM id building and parsing. ASR answers in the recorded style (``/Subscriptions/...``); ARM proper
uses ``/subscriptions/...``. Every lookup folds case, as ARM does."""

from __future__ import annotations

import base64
import hashlib
from dataclasses import dataclass

RSV = "Microsoft.RecoveryServices/vaults"


def key(arm_id: str) -> str:
    """The case-folded lookup key of an id."""
    return arm_id.strip().rstrip("/").lower()


def same(a: str | None, b: str | None) -> bool:
    """Two ids name the same resource."""
    return a is not None and b is not None and key(a) == key(b)


def vault_id(sub: str, group: str, vault: str) -> str:
    """A vault as ASR writes it inside its own resources."""
    return f"/Subscriptions/{sub}/resourceGroups/{group}/providers/{RSV}/{vault}"


def arm_vault_id(sub: str, group: str, vault: str) -> str:
    """A vault as ARM writes it."""
    return f"/subscriptions/{sub}/resourceGroups/{group}/providers/{RSV}/{vault}"


def group_id(sub: str, group: str) -> str:
    """A resource group id."""
    return f"/subscriptions/{sub}/resourceGroups/{group}"


def resource_id(sub: str, group: str, resource_type: str, name: str) -> str:
    """A plain ARM resource id, e.g. ``resource_type='Microsoft.Compute/disks'``."""
    return f"{group_id(sub, group)}/providers/{resource_type}/{name}"


@dataclass(frozen=True)
class ResourceRef:
    """The parts of a plain ARM resource id."""

    subscription: str
    group: str
    resource_type: str
    name: str


def parse(arm_id: str) -> ResourceRef | None:
    """Split ``/subscriptions/s/resourceGroups/g/providers/ns/type/name``; None when it is not one."""
    parts = arm_id.strip("/").split("/")
    if len(parts) < 8 or parts[0].lower() != "subscriptions" or parts[2].lower() != "resourcegroups":
        return None
    if parts[4].lower() != "providers":
        return None
    return ResourceRef(parts[1], parts[3], f"{parts[5]}/{parts[6]}", parts[-1])


def item_name_for(vm_id: str) -> str:
    """A PowerShell-style replicated item name: 43 url-safe characters derived from the VM id."""
    digest = hashlib.sha256(key(vm_id).encode()).digest()
    return base64.urlsafe_b64encode(digest).decode().rstrip("=").replace("-", "x").replace("_", "y")


def fabric_name_for(location: str) -> str:
    """The portal's default A2A fabric name for a region."""
    return f"asr-a2a-default-{location}"


def container_name_for(location: str) -> str:
    """The portal's default A2A protection container name for a region."""
    return f"asr-a2a-default-{location}-container"
