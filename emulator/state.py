"""The in-memory world: ARM resources, vaults with their ASR objects, replicated items, jobs, operations."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from emulator import ids
from emulator.simulation import TASKS, Event, Plan, TaskSpec


@dataclass
class Resource:
    """A plain ARM resource; ``body`` is everything but id/name/type/location."""

    id: str
    type: str
    name: str
    location: str
    body: dict[str, Any] = field(default_factory=dict)
    power_state: str | None = None  # virtual machines: running | stopped | deallocated

    def as_json(self) -> dict[str, Any]:
        """The ARM JSON of the resource."""
        return {"id": self.id, "name": self.name, "type": self.type, "location": self.location, **self.body}


@dataclass
class ResourceGroup:
    """A resource group."""

    subscription: str
    name: str
    location: str

    @property
    def id(self) -> str:
        """Its ARM id."""
        return ids.group_id(self.subscription, self.name)


@dataclass
class Fabric:
    """An Azure fabric (one region of the vault) with its single protection container."""

    name: str
    location: str
    friendly_name: str
    container: str
    internal_id: str


@dataclass
class Policy:
    """An A2A replication policy."""

    name: str
    recovery_point_history_minutes: int = 1440
    app_consistent_minutes: int = 240
    crash_consistent_minutes: int = 5


@dataclass
class ContainerMapping:
    """Pairs a source container with a target container under a policy (one direction)."""

    name: str
    source_fabric: str
    target_fabric: str
    policy: str


@dataclass
class NetworkMapping:
    """Maps a virtual network of one region to one of the other (one direction)."""

    name: str
    primary_fabric: str
    recovery_fabric: str
    primary_network_id: str
    recovery_network_id: str


@dataclass
class ItemDisk:
    """One protected disk, seen from the item's current primary side."""

    name: str
    disk_id: str
    size_gib: float
    disk_type: str  # OperatingSystem | Data
    sku: str
    changed_gib: float
    throughput_mb_s: float
    recovery_rg_id: str | None = None
    recovery_target_disk_id: str | None = None
    recovery_replica_disk_id: str | None = None
    replica_sku: str | None = None
    target_sku: str | None = None
    staging_account_id: str | None = None
    failover_disk_name: str | None = None
    # Encryption as A2AProtectedManagedDiskDetails shows it: disk encryption sets of each side (customer-
    # managed keys) and the Azure Disk Encryption keys replication uses (secretIdentifier, dekKeyVaultArmId,
    # keyIdentifier, kekKeyVaultArmId).
    primary_des_id: str | None = None
    recovery_des_id: str | None = None
    ade_secret: str | None = None
    ade_vault_id: str | None = None
    ade_kek: str | None = None
    ade_kek_vault_id: str | None = None
    # Unmanaged disks only.
    disk_uri: str | None = None
    primary_account_id: str | None = None
    recovery_disk_uri: str | None = None
    recovery_account_id: str | None = None


@dataclass
class Nic:
    """A NIC of the protected VM."""

    nic_id: str
    source_nic_id: str
    network_id: str
    recovery_network_id: str | None
    ip: str
    subnet: str = "default"


@dataclass
class Item:
    """A replicated protected item. It lives under ``fabric``/``container`` (its current primary)."""

    name: str
    vm_name: str
    fabric: str
    recovery_fabric: str
    policy: str
    protection_state: str
    protection_state_description: str
    active_location: str
    allowed_operations: list[str]
    source_vm_id: str  # fabricObjectId: the VM on the primary side
    running_vm_id: str | None  # recoveryFabricObjectId
    recovery_rg_id: str | None
    recovery_network_id: str | None
    vm_size: str
    os_type: str
    disks: list[ItemDisk]
    nics: list[Nic]
    enable_s: float
    guids: dict[str, str]
    initial_primary_location: str
    initial_recovery_location: str
    unmanaged: bool = False
    encryption_type: str = "NotEncrypted"  # vmEncryptionType
    scale_set_id: str | None = None  # recoveryVirtualMachineScaleSetId
    replication_health: str = "Normal"
    recovery_avset_id: str | None = None
    recovery_ppg_id: str | None = None
    scenario_name: str = "None"
    scenario_job_id: str | None = None
    scenario_start: float | None = None
    last_failover_at: float | None = None
    resync_start: float | None = None
    resync_s: float = 0.0
    protected_at: float | None = None
    last_job: str | None = None
    artifacts: dict[str, Any] = field(default_factory=dict)
    # Set when a failed/cancelled reprotect left the item moved (see Faults.leftovers): the item as it was
    # before that reprotect, which a Restart or a new switch protection starts from again.
    leftover_snapshot: Item | None = None
    # The rest of the way home (test failover, cleanup, unplanned failover, commit): README "The whole cycle".
    test_failover_state: str = "None"
    test_failover_state_description: str = "None"
    last_test_failover_at: float | None = None
    failover_point_id: str | None = None  # failoverRecoveryPointId of the last (test) failover
    test_network_id: str | None = None  # selectedTfoAzureNetworkId
    test_vm_id: str | None = None  # testFailoverRecoveryFabricObjectId


@dataclass
class DiskInput:
    """One disk of a reprotect request (managed: ``disk_id``; unmanaged: ``disk_uri``)."""

    disk_id: str | None
    disk_uri: str | None
    staging_account_id: str | None
    recovery_rg_id: str | None
    replica_sku: str | None = None
    target_sku: str | None = None
    recovery_account_id: str | None = None
    des_id: str | None = None  # recoveryDiskEncryptionSetId
    encryption: dict[str, Any] | None = None  # diskEncryptionInfo


@dataclass
class ReprotectRequest:
    """The parts of SwitchProtectionInput / ReverseReplicationInput the simulation honours."""

    recovery_container_id: str
    policy_id: str
    recovery_rg_id: str | None
    avset_id: str | None
    ppg_id: str | None
    managed_disks: list[DiskInput]
    vm_disks: list[DiskInput]
    legacy: bool = False
    encryption: dict[str, Any] | None = None  # diskEncryptionInfo (the VM's)
    scale_set_id: str | None = None  # recoveryVirtualMachineScaleSetId


@dataclass
class CycleRequest:
    """The parts of TestFailoverInput / TestFailoverCleanupInput / UnplannedFailoverInput the simulation
    honours (FailoverCommit has no body)."""

    operation: str  # TestFailover | TestFailoverCleanup | UnplannedFailover | CommitFailover
    failover_direction: str | None = None
    network_id: str | None = None  # test failover: the isolated test network
    network_type: str | None = None
    recovery_point_id: str | None = None  # None: the latest processed point
    source_site_operations: str | None = None  # unplanned failover: Required shuts the source down
    comments: str | None = None  # test failover cleanup


@dataclass(frozen=True)
class PlannedFailure:
    """An injected failure of one job: at ``task``, ``at_fraction`` of the way through it."""

    task: str
    code: str
    message: str | None
    at_fraction: float = 0.0
    restartable: bool = True  # whether the failed job then offers Restart


@dataclass
class JobError:
    """One ASR error raised by a task."""

    code: str
    message: str
    possible_causes: str
    recommended_action: str
    task_id: str
    at: float


@dataclass
class Task:
    """One task of a job and where it stands."""

    spec: TaskSpec
    state: str = "NotStarted"
    start: float | None = None
    end: float | None = None
    errors: list[JobError] = field(default_factory=list)


def fresh_tasks() -> list[Task]:
    """The reprotect job's tasks, none started."""
    return [Task(spec) for spec in TASKS]


@dataclass
class Job:
    """An ASR reprotect job (``SwitchReplicationGroupProtection``)."""

    name: str
    item: str
    scenario_name: str
    request: ReprotectRequest
    plan: Plan
    events: list[Event]
    created: float
    guids: dict[str, str]
    snapshot: Item
    state: str = "NotStarted"
    start: float | None = None
    end: float | None = None
    tasks: list[Task] = field(default_factory=fresh_tasks)
    errors: list[JobError] = field(default_factory=list)
    cursor: int = 0
    planned_failure: PlannedFailure | None = None
    restartable: bool = True  # a failed job offers Restart unless its failure says otherwise
    resumed: bool = False  # started again from an item an earlier attempt left moved
    new_item_id: str | None = None
    removed: list[Resource] = field(default_factory=list)  # what the job deleted, for rollback
    cycle: CycleRequest | None = None  # set on the jobs of the rest of the cycle (not reprotect)

    def task(self, task_id: str) -> Task:
        """The task with ``task_id``."""
        return next(t for t in self.tasks if t.spec.task_id == task_id)

    @property
    def running(self) -> bool:
        """Not yet finished."""
        return self.state in ("NotStarted", "InProgress")


@dataclass
class Operation:
    """An async operation (the guid behind Location / Azure-AsyncOperation)."""

    name: str
    job: str
    created: float
    result: str  # container | item | job: what the final GET returns
    fabric: str | None = None
    container: str | None = None
    follows_job: bool = True
    status: str | None = None  # set once terminal
    ended: float | None = None
    error: dict[str, Any] | None = None


@dataclass
class Vault:
    """A Recovery Services vault and the ASR objects inside it."""

    subscription: str
    group: str
    name: str
    location: str
    fabrics: dict[str, Fabric] = field(default_factory=dict)
    policies: dict[str, Policy] = field(default_factory=dict)
    container_mappings: list[ContainerMapping] = field(default_factory=list)
    network_mappings: list[NetworkMapping] = field(default_factory=list)
    items: dict[str, Item] = field(default_factory=dict)
    jobs: dict[str, Job] = field(default_factory=dict)
    operations: dict[str, Operation] = field(default_factory=dict)

    @property
    def id(self) -> str:
        """Recorded-style vault id (``/Subscriptions/...``)."""
        return ids.vault_id(self.subscription, self.group, self.name)

    def fabric(self, name: str) -> Fabric | None:
        """A fabric by name (case-insensitive)."""
        return self.fabrics.get(name.lower())

    def fabric_at(self, location: str) -> Fabric | None:
        """The fabric of a region."""
        return next((f for f in self.fabrics.values() if f.location.lower() == location.lower()), None)

    def item(self, name: str) -> Item | None:
        """An item by name, or by VM name when no item has that name."""
        found = self.items.get(name.lower())
        if found is None:
            found = next((i for i in self.items.values() if i.vm_name.lower() == name.lower()), None)
        return found


@dataclass
class World:
    """Everything the emulator knows; mutated only by the engine and the artifact helpers."""

    name: str
    locations: dict[str, str] = field(default_factory=dict)  # name -> display name
    subscriptions: dict[str, str] = field(default_factory=dict)  # folded -> canonical
    groups: dict[tuple[str, str], ResourceGroup] = field(default_factory=dict)
    resources: dict[str, Resource] = field(default_factory=dict)
    vaults: dict[str, Vault] = field(default_factory=dict)
    outages: set[str] = field(default_factory=set)
    outage_started: dict[str, float] = field(default_factory=dict)  # location -> simulated start
    outage_fabric_health: dict[str, str] = field(default_factory=dict)  # location -> fabric health shown
    active_jobs: set[tuple[str, str]] = field(default_factory=set)  # (vault key, job name folded)
    resyncing: set[tuple[str, str]] = field(default_factory=set)  # (vault key, item name folded)
    creating_accounts: dict[str, float] = field(default_factory=dict)  # storage account key -> ready at (sim s)
    storage_operations: dict[str, str] = field(default_factory=dict)  # create operation id -> account id

    def group(self, sub: str, name: str) -> ResourceGroup | None:
        """A resource group."""
        return self.groups.get((sub.lower(), name.lower()))

    def add_group(self, sub: str, name: str, location: str) -> ResourceGroup:
        """Add (or return) a resource group."""
        found = self.group(sub, name)
        if found is None:
            found = ResourceGroup(self.subscriptions.get(sub.lower(), sub), name, location)
            self.groups[(sub.lower(), name.lower())] = found
        return found

    def get(self, arm_id: str | None) -> Resource | None:
        """A resource by id (case-insensitive)."""
        return self.resources.get(ids.key(arm_id)) if arm_id else None

    def put(self, resource: Resource) -> Resource:
        """Store (or replace) a resource."""
        self.resources[ids.key(resource.id)] = resource
        return resource

    def delete(self, arm_id: str) -> Resource | None:
        """Remove a resource; the removed one, if any."""
        return self.resources.pop(ids.key(arm_id), None)

    def of_type(self, resource_type: str, sub: str, group: str | None = None) -> list[Resource]:
        """Resources of one type in a subscription, optionally one resource group."""
        prefix = ids.key(ids.group_id(sub, group)) + "/" if group else f"/subscriptions/{sub.lower()}/"
        wanted = resource_type.lower()
        return [r for k, r in self.resources.items() if k.startswith(prefix) and r.type.lower() == wanted]

    def vault(self, sub: str, group: str, name: str) -> Vault | None:
        """A vault by its parts."""
        return self.vaults.get(ids.key(ids.arm_vault_id(sub, group, name)))

    def region_down(self, location: str | None) -> bool:
        """The region is in an outage."""
        return location is not None and location.lower() in self.outages
