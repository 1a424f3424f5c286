"""An in-memory ``Cloud`` for unit tests of pure-ish rules (injected, never patched in).

Like Azure, it answers per vault: a vault that holds none of its items has no items, fabrics or mappings.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from app.cloud import parse
from app.cloud.ids import ItemRef, VaultRef, name_of, same_id
from app.cloud.types import (
    AsrJob,
    AvailabilityStatus,
    ContainerMapping,
    Disk,
    DiskEncryptionSet,
    Fabric,
    NameAvailability,
    NetworkMapping,
    ReplicatedItem,
    Resource,
    StorageAccount,
    StorageAccountSpec,
    SwitchProtectionSpec,
    VirtualMachine,
    pick_item,
)
from app.errors import CloudPermanent
from tests.data import load

SAMPLE_SUBSCRIPTION = "/subscriptions/7c943c1b-5122-4097-90c8-861411bdd574"


def sample_item() -> dict[str, Any]:
    """The recorded item after failover + commit."""
    return load("a2a_rpi_after_failover_commit.json")


def ready_cloud(item: dict[str, Any]) -> FakeCloud:
    """A vault in which ``item`` (the recorded one, or a variant of it) passes every prerequisite of reprotect."""
    details = item["properties"]["providerSpecificDetails"]
    own_container = item["id"].rsplit("/replicationProtectedItems/", 1)[0]
    vault = item["id"].split("/replicationFabrics/")[0]
    other_container = vault + "/replicationFabrics/ukwest/replicationProtectionContainers/w"
    fake = FakeCloud(items=[item])
    fake.fabrics["asr-a2a-default-uksouth"] = Fabric("asr-a2a-default-uksouth", "UK South", "uksouth", "Normal")
    fake.mappings = [
        ContainerMapping(own_container, other_container, "p1", "Paired"),
        ContainerMapping(other_container, own_container, "p-back", "Paired"),
    ]
    fake.networks = [
        NetworkMapping(details["selectedRecoveryAzureNetworkId"], details["vmNics"][0]["vMNetworkName"], "Succeeded")
    ]
    disk_id = details["protectedManagedDisks"][0]["diskId"]
    fake.add_resource(
        details["fabricObjectId"],
        location="uksouth",
        properties={"storageProfile": {"osDisk": {"managedDisk": {"id": disk_id}}}},
    )
    fake.add_resource(details["recoveryFabricObjectId"], location="ukwest")
    fake.add_resource(f"{SAMPLE_SUBSCRIPTION}/resourceGroups/vijami-alertrg", location="uksouth")
    return fake


@dataclass
class FakeCloud:
    """Holds raw item JSON, ARM resources and ASR jobs; answers like the adapter would.

    ``failures`` makes a call raise (by method name, e.g. ``{"get_job": CloudTransient(...)}``);
    ``on_switch`` is what Azure does to the items when a switch protection arrives (before it answers);
    ``lagging_reads`` are item ids whose GET still answers 404 while the vault's list already shows them;
    ``stale_listed_vms`` are VMs a subscription's listing still shows after they were deleted;
    ``taken_storage_names`` are storage account names held elsewhere in Azure (names are global);
    ``created_accounts`` records every storage account create, and ``new_account_state`` is the
    provisioning state a created account starts in (Storage creates asynchronously).
    """

    items: list[dict[str, Any]] = field(default_factory=list)
    fabrics: dict[str, Fabric] = field(default_factory=dict)
    mappings: list[ContainerMapping] = field(default_factory=list)
    networks: list[NetworkMapping] = field(default_factory=list)
    resources: dict[str, dict[str, Any]] = field(default_factory=dict)
    submitted: list[SwitchProtectionSpec] = field(default_factory=list)
    list_calls: int = 0
    jobs: list[AsrJob] = field(default_factory=list)
    failures: dict[str, Exception] = field(default_factory=dict)
    on_switch: Callable[[FakeCloud], None] | None = None
    lagging_reads: set[str] = field(default_factory=set)
    stale_listed_vms: list[dict[str, Any]] = field(default_factory=list)
    health: dict[str, AvailabilityStatus] = field(default_factory=dict)  # Resource Health by resource id
    taken_storage_names: set[str] = field(default_factory=set)
    created_accounts: list[StorageAccountSpec] = field(default_factory=list)
    new_account_state: str = "Succeeded"

    def _fail_if_told(self, call: str) -> None:
        if call in self.failures:
            raise self.failures[call]

    def _holds(self, vault: VaultRef) -> bool:
        return any(raw["id"].lower().startswith(vault.key + "/") for raw in self.items)

    def get_item(self, ref: ItemRef) -> ReplicatedItem | None:
        self._fail_if_told("get_item")
        if ref.id.lower() in self.lagging_reads:
            return None
        raw = next((i for i in self.items if same_id(i["id"], ref.id)), None)
        return parse.item(copy.deepcopy(raw)) if raw else None

    def find_item(self, vault: VaultRef, vm_name: str) -> ReplicatedItem | None:
        self._fail_if_told("find_item")
        mine = [parse.item(copy.deepcopy(raw)) for raw in self.items if raw["id"].lower().startswith(vault.key + "/")]
        return pick_item(mine, vm_name)

    def list_items(self, vault: VaultRef) -> list[ReplicatedItem]:
        self.list_calls += 1
        return [parse.item(copy.deepcopy(raw)) for raw in self.items if raw["id"].lower().startswith(vault.key + "/")]

    def list_vault_ids(self, subscription_id: str) -> list[str]:
        marker = "/providers/microsoft.recoveryservices/vaults/"
        ids = {
            raw["id"][: raw["id"].lower().index(marker) + len(marker)] + raw["id"].split("/")[8] for raw in self.items
        }
        return sorted(i for i in ids if i.split("/")[2].lower() == subscription_id.lower())

    def get_fabric(self, vault: VaultRef, fabric: str) -> Fabric | None:
        self._fail_if_told("get_fabric")
        return self.fabrics.get(fabric.lower()) if self._holds(vault) else None

    def container_mappings(self, vault: VaultRef) -> list[ContainerMapping]:
        return list(self.mappings) if self._holds(vault) else []

    def network_mappings(self, vault: VaultRef) -> list[NetworkMapping]:
        return list(self.networks) if self._holds(vault) else []

    def get_resource(self, arm_id: str) -> Resource | None:
        self._fail_if_told("get_resource")
        raw = self.resources.get(arm_id.lower())
        return parse.resource(raw) if raw else None

    def get_vm(self, arm_id: str) -> VirtualMachine | None:
        self._fail_if_told("get_vm")
        raw = self.resources.get(arm_id.lower())
        return parse.virtual_machine(raw) if raw else None

    def get_disk(self, arm_id: str) -> Disk | None:
        self._fail_if_told("get_disk")
        raw = self.resources.get(arm_id.lower())
        return parse.managed_disk(raw) if raw else None

    def get_disk_encryption_set(self, arm_id: str) -> DiskEncryptionSet | None:
        raw = self.resources.get(arm_id.lower())
        return parse.disk_encryption_set(raw) if raw else None

    def list_vms(self, subscription_id: str) -> list[VirtualMachine]:
        prefix = f"/subscriptions/{subscription_id}/".lower()
        stale = [raw for raw in self.stale_listed_vms if raw["id"].lower().startswith(prefix)]
        listed = [*self._under(f"/subscriptions/{subscription_id}", "compute"), *stale]
        return [parse.virtual_machine(raw) for raw in listed]

    def list_storage_accounts(self, resource_group_id: str) -> list[StorageAccount]:
        return [parse.storage_account(raw) for raw in self._under(resource_group_id, "storage")]

    def get_storage_account(self, arm_id: str) -> StorageAccount | None:
        self._fail_if_told("get_storage_account")
        raw = self.resources.get(arm_id.lower())
        return parse.storage_account(raw) if raw else None

    def _storage_name_holder(self, name: str) -> str | None:
        if name.lower() in self.taken_storage_names:
            return "elsewhere"
        return next(
            (r["id"] for r in self._under("/subscriptions", "storage") if str(r["name"]).lower() == name.lower()), None
        )

    def check_storage_account_name(self, subscription_id: str, name: str) -> NameAvailability:
        if not (3 <= len(name) <= 24 and name.isalnum() and name == name.lower()):
            return NameAvailability(False, "AccountNameInvalid", f"{name} is not a valid storage account name.")
        if self._storage_name_holder(name):
            return NameAvailability(False, "AlreadyExists", f"The storage account named {name} is already taken.")
        return NameAvailability(True)

    def create_storage_account(self, spec: StorageAccountSpec) -> StorageAccount | None:
        self._fail_if_told("create_storage_account")
        self.created_accounts.append(spec)
        holder = self._storage_name_holder(name_of(spec.id))
        if holder is not None and not same_id(holder, spec.id):
            raise CloudPermanent("The storage account is already taken.", code="StorageAccountAlreadyTaken", status=409)
        self.add_resource(
            spec.id,
            location=spec.location,
            kind=spec.kind,
            sku={"name": spec.sku},
            properties={"provisioningState": self.new_account_state},
        )
        return self.get_storage_account(spec.id) if self.new_account_state == "Succeeded" else None

    def _under(self, scope_id: str, provider: str) -> list[dict[str, Any]]:
        prefix = scope_id.lower().rstrip("/") + "/"
        kind = {
            "compute": "/providers/microsoft.compute/virtualmachines/",
            "storage": "/providers/microsoft.storage/storageaccounts/",
        }
        return [r for key, r in self.resources.items() if key.startswith(prefix) and kind[provider] in key]

    def add_resource(self, arm_id: str, **body: Any) -> None:
        self.resources[arm_id.lower()] = {"id": arm_id, "name": arm_id.rsplit("/", 1)[-1], **body}

    def availability(self, arm_id: str) -> AvailabilityStatus | None:
        """What Resource Health says (``health``), else Available for a resource that exists, else None."""
        self._fail_if_told("availability")
        if arm_id.lower() in self.health:
            return self.health[arm_id.lower()]
        return AvailabilityStatus(arm_id, "Available") if arm_id.lower() in self.resources else None

    def add_storage_account(
        self,
        arm_id: str,
        location: str,
        *,
        kind: str = "StorageV2",
        sku: str = "Standard_LRS",
        state: str = "Succeeded",
    ) -> None:
        """A storage account as Storage lists it (kind, SKU, provisioning state)."""
        self.add_resource(
            arm_id, location=location, kind=kind, sku={"name": sku}, properties={"provisioningState": state}
        )

    def switch_protection(self, spec: SwitchProtectionSpec) -> str:
        self.submitted.append(spec)
        if self.on_switch is not None:
            self.on_switch(self)
        self._fail_if_told("switch_protection")
        return f"job-{len(self.submitted)}"

    def get_job(self, vault: VaultRef, job_name: str) -> AsrJob | None:
        self._fail_if_told("get_job")
        return next((j for j in self.jobs if same_id(j.id, vault.job_id(job_name))), None)

    def cancel_job(self, vault: VaultRef, job_name: str) -> None:
        return None

    def restart_job(self, vault: VaultRef, job_name: str) -> None:
        return None

    def list_jobs(self, vault: VaultRef) -> list[AsrJob]:
        """The vault's jobs in the order given (newest first, as Azure lists them)."""
        return [j for j in self.jobs if j.id.lower().startswith(vault.key + "/")]
