"""An in-memory ``Cloud`` for unit tests of pure-ish rules (injected, never patched in)."""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from typing import Any

from app.cloud import parse
from app.cloud.ids import ItemRef, VaultRef, same_id
from app.cloud.types import (
    AsrJob,
    ContainerMapping,
    Fabric,
    NetworkMapping,
    ReplicatedItem,
    Resource,
    SwitchProtectionSpec,
    VirtualMachine,
)
from tests.data import load


def sample_item() -> dict[str, Any]:
    """The recorded item after failover + commit."""
    return load("a2a_rpi_after_failover_commit.json")


@dataclass
class FakeCloud:
    """Holds raw item JSON and ARM resources; answers like the adapter would."""

    items: list[dict[str, Any]] = field(default_factory=list)
    fabrics: dict[str, Fabric] = field(default_factory=dict)
    mappings: list[ContainerMapping] = field(default_factory=list)
    networks: list[NetworkMapping] = field(default_factory=list)
    resources: dict[str, dict[str, Any]] = field(default_factory=dict)
    submitted: list[SwitchProtectionSpec] = field(default_factory=list)
    list_calls: int = 0

    def get_item(self, ref: ItemRef) -> ReplicatedItem | None:
        raw = next((i for i in self.items if same_id(i["id"], ref.id)), None)
        return parse.item(copy.deepcopy(raw)) if raw else None

    def find_item(self, vault: VaultRef, vm_name: str) -> ReplicatedItem | None:
        for raw in self.items:
            if raw["properties"]["friendlyName"].lower() == vm_name.lower() or raw["name"].lower() == vm_name.lower():
                return parse.item(copy.deepcopy(raw))
        return None

    def list_items(self, vault: VaultRef) -> list[ReplicatedItem]:
        self.list_calls += 1
        return [parse.item(copy.deepcopy(raw)) for raw in self.items]

    def get_fabric(self, vault: VaultRef, fabric: str) -> Fabric | None:
        return self.fabrics.get(fabric.lower())

    def container_mappings(self, vault: VaultRef) -> list[ContainerMapping]:
        return list(self.mappings)

    def network_mappings(self, vault: VaultRef) -> list[NetworkMapping]:
        return list(self.networks)

    def get_resource(self, arm_id: str) -> Resource | None:
        raw = self.resources.get(arm_id.lower())
        return parse.resource(raw) if raw else None

    def get_vm(self, arm_id: str) -> VirtualMachine | None:
        raw = self.resources.get(arm_id.lower())
        return parse.virtual_machine(raw) if raw else None

    def list_vms(self, subscription_id: str) -> list[VirtualMachine]:
        return [parse.virtual_machine(raw) for raw in self._under(f"/subscriptions/{subscription_id}", "compute")]

    def list_storage_accounts(self, resource_group_id: str) -> list[Resource]:
        return [parse.resource(raw) for raw in self._under(resource_group_id, "storage")]

    def _under(self, scope_id: str, provider: str) -> list[dict[str, Any]]:
        prefix = scope_id.lower().rstrip("/") + "/"
        kind = {"compute": "/providers/microsoft.compute/virtualmachines/", "storage": "/providers/microsoft.storage/"}
        return [r for key, r in self.resources.items() if key.startswith(prefix) and kind[provider] in key]

    def add_resource(self, arm_id: str, **body: Any) -> None:
        self.resources[arm_id.lower()] = {"id": arm_id, "name": arm_id.rsplit("/", 1)[-1], **body}

    def switch_protection(self, spec: SwitchProtectionSpec) -> str:
        self.submitted.append(spec)
        return f"job-{len(self.submitted)}"

    def get_job(self, vault: VaultRef, job_name: str) -> AsrJob | None:
        return None

    def cancel_job(self, vault: VaultRef, job_name: str) -> None:
        return None

    def list_jobs(self, vault: VaultRef) -> list[AsrJob]:
        return []
