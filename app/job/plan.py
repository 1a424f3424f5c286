"""What reprotect will do for one VM, resolved against Azure (the portal's review blade).

A domain value: the prerequisite checks build it, switch protection is sent from it, the job row keeps it
as JSON (:meth:`ReprotectPlan.to_json` / :meth:`ReprotectPlan.from_json`), and the API renders it.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any, Literal

ArtifactStatus = Literal["existing", "new", "fixed"]


@dataclass(frozen=True)
class PlannedResource:
    """One artifact reprotect uses: existing, to be created (``new``), or ``fixed`` (cannot change)."""

    id: str | None
    name: str | None
    status: ArtifactStatus


@dataclass(frozen=True)
class PlannedDisk:
    """One managed disk: the disk in use now and the target disk reprotect replicates to."""

    name: str
    disk_id: str
    target_disk_id: str
    status: Literal["existing", "new"]
    size_gb: float
    target_disk_type: str | None
    replica_disk_type: str | None
    disk_type: str | None = None  # OperatingSystem or Data
    # Encryption in the region the VM goes back to: the disk encryption set of its replica disk
    # (customer-managed keys) and its Azure Disk Encryption secret / key encryption key with their vaults.
    disk_encryption_set_id: str | None = None
    ade_secret_url: str | None = None
    ade_secret_vault_id: str | None = None
    ade_key_url: str | None = None
    ade_key_vault_id: str | None = None


@dataclass(frozen=True)
class ReprotectDirection:
    """From where the VM runs now to the region it goes back to."""

    source: str
    target: str
    source_location: str
    target_location: str


@dataclass(frozen=True)
class ReprotectPlan:
    """Everything switch protection will be sent with for one VM, and how long it should take."""

    vm: str
    item_id: str
    vault_id: str
    direction: ReprotectDirection
    recovery_container_id: str
    policy_id: str
    target_resource_group: PlannedResource
    network: PlannedResource
    cache_storage_account: PlannedResource
    availability_set: PlannedResource | None
    proximity_placement_group: PlannedResource | None
    disks: tuple[PlannedDisk, ...]
    estimated_seconds: float
    scale_set: PlannedResource | None = None  # the original VM's flexible scale set, kept on the way back

    def to_json(self) -> dict[str, Any]:
        """The plan as stored with the job (plain JSON types)."""
        stored = asdict(self)
        stored["disks"] = list(stored["disks"])
        return stored

    @classmethod
    def from_json(cls, stored: dict[str, Any]) -> ReprotectPlan:
        """A plan stored by :meth:`to_json`."""

        def artifact(value: dict[str, Any] | None) -> PlannedResource | None:
            return PlannedResource(**value) if value else None

        return cls(
            vm=stored["vm"],
            item_id=stored["item_id"],
            vault_id=stored["vault_id"],
            direction=ReprotectDirection(**stored["direction"]),
            recovery_container_id=stored["recovery_container_id"],
            policy_id=stored["policy_id"],
            target_resource_group=PlannedResource(**stored["target_resource_group"]),
            network=PlannedResource(**stored["network"]),
            cache_storage_account=PlannedResource(**stored["cache_storage_account"]),
            availability_set=artifact(stored.get("availability_set")),
            proximity_placement_group=artifact(stored.get("proximity_placement_group")),
            disks=tuple(PlannedDisk(**disk) for disk in stored.get("disks", ())),
            estimated_seconds=float(stored["estimated_seconds"]),
            scale_set=artifact(stored.get("scale_set")),
        )
