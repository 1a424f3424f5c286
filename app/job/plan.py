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
    # Replication goes back the way it was first enabled (the VM runs where it was first protected from): the
    # last step of the way home, recorded as a job of kind reprotect_back.
    restores_original: bool = False


@dataclass(frozen=True)
class RegionRead:
    """One read of a resource reprotect writes to, and what answered."""

    what: str  # "original resource group", "original VM", "disk of the original VM", ...
    id: str
    answer: str  # "found", "not found", "failed: …", or how it was known without a read of its own


@dataclass(frozen=True)
class RegionHealth:
    """Azure Resource Health's word on the original VM, and what the service makes of it."""

    # outage: platform trouble, blocks; user_initiated: stopped/deallocated by its owner; planned: platform
    # maintenance; unexplained: unavailable with no cause given; unknown: Unknown or no status; unread: RH failed
    verdict: Literal["available", "outage", "user_initiated", "planned", "unexplained", "unknown", "unread"]
    state: str | None  # availabilityState as Azure said it
    reason: str | None  # reasonType / context / category / healthEventCause as Azure said them
    summary: str | None  # Azure's summary (or why Resource Health could not be read)


@dataclass(frozen=True)
class TargetRegionCheck:
    """What was asked to see that the target region can be reached and is not in an outage.

    Fabric health is shown for information only: it is a free string served from the vault's region with no
    public evidence that it reflects an outage of the target region.
    """

    location: str
    reads: tuple[RegionRead, ...]
    resource_health: RegionHealth | None  # None: no original VM to ask about
    fabric_health: str | None  # None: the fabric could not be read
    fabric_health_errors: tuple[str, ...] = ()
    advisories: tuple[str, ...] = ()

    @classmethod
    def from_json(cls, stored: dict[str, Any]) -> TargetRegionCheck:
        """A check stored by ``asdict``."""
        health = stored.get("resource_health")
        return cls(
            location=stored["location"],
            reads=tuple(RegionRead(**read) for read in stored.get("reads", ())),
            resource_health=RegionHealth(**health) if health else None,
            fabric_health=stored.get("fabric_health"),
            fabric_health_errors=tuple(stored.get("fabric_health_errors", ())),
            advisories=tuple(stored.get("advisories", ())),
        )


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
    target_region: TargetRegionCheck | None = None  # None in plans stored before the check was recorded
    scale_set: PlannedResource | None = None  # the original VM's flexible scale set, kept on the way back

    def to_json(self) -> dict[str, Any]:
        """The plan as stored with the job (plain JSON types)."""
        stored = asdict(self)
        stored["disks"] = list(stored["disks"])
        if stored["target_region"] is not None:
            region = stored["target_region"]
            region["reads"] = list(region["reads"])
            region["fabric_health_errors"] = list(region["fabric_health_errors"])
            region["advisories"] = list(region["advisories"])
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
            target_region=TargetRegionCheck.from_json(region) if (region := stored.get("target_region")) else None,
            scale_set=artifact(stored.get("scale_set")),
        )
