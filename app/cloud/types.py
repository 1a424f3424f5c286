"""What the service needs to know from Azure, as plain dataclasses, and the ``Cloud`` interface.

Everything crossing the interface is typed: no ARM JSON leaves ``app.cloud``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Protocol, runtime_checkable

from app.cloud.ids import ItemRef, VaultRef


@dataclass(frozen=True)
class DiskKeys:
    """Azure Disk Encryption keys of a disk: the BitLocker/dm-crypt secret (DEK) and, when it is wrapped,
    the key encryption key (KEK), each with the key vault that holds it (SDK ``DiskEncryptionInfo``)."""

    secret_url: str
    secret_vault_id: str
    key_url: str | None = None
    key_vault_id: str | None = None


@dataclass(frozen=True)
class ManagedDisk:
    """One protected managed disk of a failed-over item."""

    disk_id: str  # the original disk, in the region the VM is reprotected to
    in_use_disk_id: str  # the disk the failed-over VM runs on now
    name: str
    capacity_bytes: int
    target_disk_type: str | None
    replica_disk_type: str | None
    disk_type: str  # OperatingSystem or Data
    # Customer-managed keys (A2AProtectedManagedDiskDetails): the disk encryption set of the original disk
    # (``primaryDiskEncryptionSetId``) and of the failed-over one (``recoveryDiskEncryptionSetId``).
    primary_disk_encryption_set_id: str | None = None
    recovery_disk_encryption_set_id: str | None = None
    ade_encrypted: bool = False  # isDiskEncrypted: Azure Disk Encryption
    ade_keys: DiskKeys | None = None  # secretIdentifier / dekKeyVaultArmId / keyIdentifier / kekKeyVaultArmId


@dataclass(frozen=True)
class ReplicatedItem:
    """A replicated item as Site Recovery reports it, reduced to what reprotect needs."""

    ref: ItemRef
    vm_name: str
    protection_state: str
    protection_state_description: str
    active_location: str
    allowed_operations: tuple[str, ...]
    current_scenario: str
    current_job_id: str | None
    replication_health: str
    primary_fabric_name: str  # the region the VM is reprotected to (friendly name, e.g. "East Asia")
    recovery_fabric_name: str  # where it runs now
    primary_location: str
    recovery_location: str
    source_vm_id: str | None  # the original VM, which reprotect seeds from and replaces
    running_vm_id: str | None  # the failed-over VM running now
    recovery_resource_group_id: str | None
    recovery_availability_set_id: str | None
    primary_network_id: str | None
    running_network_id: str | None
    disks: tuple[ManagedDisk, ...]
    monitoring_percent: int | None
    policy_id: str | None
    vm_encryption_type: str = "NotEncrypted"  # A2AReplicationDetails.vmEncryptionType
    unmanaged_disk_count: int = 0  # protectedDisks: page-blob (unmanaged) disks
    test_failover_state: str = "None"  # testFailoverState: None | InProgress | WaitingForCompletion | ...
    # A2AReplicationDetails.initialPrimaryFabricLocation: where replication was first enabled from (kept by
    # switch protection), so a reprotect whose source is that region restores the original direction.
    initial_primary_location: str = ""

    @property
    def encrypted(self) -> bool:
        """Whether any disk uses Azure Disk Encryption or a customer-managed disk encryption set."""
        return self.vm_encryption_type.lower() not in ("", "notencrypted") or any(
            d.ade_encrypted or d.primary_disk_encryption_set_id or d.recovery_disk_encryption_set_id for d in self.disks
        )


@dataclass(frozen=True)
class Fabric:
    """A Site Recovery fabric: one region of the vault."""

    name: str
    friendly_name: str
    location: str
    health: str
    health_errors: tuple[str, ...] = ()


@dataclass(frozen=True)
class ContainerMapping:
    """A pairing of a source protection container with a target container under a policy."""

    source_container_id: str
    target_container_id: str
    policy_id: str | None
    state: str


@dataclass(frozen=True)
class NetworkMapping:
    """A pairing of a virtual network in one region with one in the other."""

    primary_network_id: str
    recovery_network_id: str
    state: str


@dataclass(frozen=True)
class AsrTask:
    """One task of an ASR job, as shown in the portal."""

    task_id: str
    name: str
    state: str
    state_description: str
    start_time: str | None
    end_time: str | None


@dataclass(frozen=True)
class AsrError:
    """One error of a failed ASR job: Site Recovery's own code and advice, and the provider's, when given."""

    code: str | None
    message: str
    possible_causes: str | None = None
    recommended_action: str | None = None
    provider_code: int | None = None
    provider_message: str | None = None
    task_id: str | None = None


@dataclass(frozen=True)
class AsrJob:
    """An ASR job (the reprotect job Azure runs for one VM)."""

    id: str
    name: str
    state: str
    state_description: str
    allowed_actions: tuple[str, ...]
    tasks: tuple[AsrTask, ...]
    errors: tuple[AsrError, ...]
    new_item_id: str | None
    start_time: str | None
    end_time: str | None
    scenario_name: str = ""
    target_object_name: str = ""


@dataclass(frozen=True)
class Resource:
    """A plain ARM resource (resource group, storage account, availability set, ...): where it is."""

    id: str
    name: str
    location: str


@dataclass(frozen=True)
class StorageAccount(Resource):
    """A storage account: where it is, what kind, and whether it is usable yet (``provisioning_state``)."""

    kind: str = ""  # StorageV2, Storage, BlobStorage, BlockBlobStorage, FileStorage
    sku: str = ""  # Standard_LRS, Premium_LRS, ...
    provisioning_state: str = ""  # Creating, ResolvingDNS, Succeeded
    allow_shared_key_access: bool | None = None  # None: not stated (Azure's default allows it)

    @property
    def usable(self) -> bool:
        """Whether Azure finished creating it."""
        return self.provisioning_state.lower() == "succeeded"


@dataclass(frozen=True)
class StorageAccountSpec:
    """A storage account to create: where, named what, and of which kind."""

    id: str  # the account's ARM id (subscription, resource group and name)
    location: str
    kind: str = "StorageV2"
    sku: str = "Standard_LRS"
    minimum_tls_version: str = "TLS1_2"
    allow_blob_public_access: bool = False


@dataclass(frozen=True)
class NameAvailability:
    """Storage's answer to checkNameAvailability (names are global across Azure)."""

    available: bool
    reason: str | None = None  # AccountNameInvalid | AlreadyExists
    message: str | None = None


@dataclass(frozen=True)
class VirtualMachine:
    """A virtual machine, reduced to what reprotect needs from it."""

    id: str
    name: str
    location: str
    availability_set_id: str | None
    disk_ids: tuple[str, ...]  # managed disks, OS disk first
    scale_set_id: str | None = None  # virtualMachineScaleSet.id: the flexible scale set the VM belongs to


@dataclass(frozen=True)
class Disk:
    """A managed disk as Compute reports it, reduced to where it is and how it is encrypted."""

    id: str
    location: str
    disk_encryption_set_id: str | None  # encryption.diskEncryptionSetId (customer-managed keys)
    ade_keys: DiskKeys | None  # encryptionSettingsCollection (Azure Disk Encryption), first entry


@dataclass(frozen=True)
class DiskEncryptionSet:
    """A disk encryption set: where it is and the key vault of its active key."""

    id: str
    location: str
    key_vault_id: str | None


@dataclass(frozen=True)
class AvailabilityStatus:
    """Azure Resource Health's current availability status of one resource (``availabilityStatuses/current``).

    Azure's own words, unjudged: ``app.job.region`` decides what they mean for reprotect.
    """

    resource_id: str
    state: str  # availabilityState: Available, Unavailable, Degraded, Unknown (free text in the spec)
    title: str | None = None
    summary: str | None = None
    detailed_status: str | None = None
    reason_type: str | None = None  # "Examples are planned, unplanned, user initiated or an outage etc."
    context: str | None = None  # Platform Initiated, Customer Initiated, VM Initiated, Unknown
    category: str | None = None  # Planned, Unplanned (for platform-initiated events)
    health_event_cause: str | None = None  # PlatformInitiated, UserInitiated, ...
    health_event_category: str | None = None
    occurred_time: str | None = None


@dataclass(frozen=True)
class DiskReplication:
    """One managed disk in a switch protection: the disk, its cache account and where its replica goes."""

    disk_id: str
    staging_account_id: str
    recovery_resource_group_id: str
    replica_disk_type: str | None = None
    target_disk_type: str | None = None
    disk_encryption_set_id: str | None = None  # recoveryDiskEncryptionSetId
    keys: DiskKeys | None = None  # per-disk diskEncryptionInfo


@dataclass(frozen=True)
class SwitchProtectionSpec:
    """Everything switch protection needs, resolved by the prerequisite checks."""

    item: ItemRef
    recovery_container_id: str
    policy_id: str
    recovery_resource_group_id: str
    cache_storage_account_id: str
    disks: tuple[DiskReplication, ...]
    availability_set_id: str | None = None
    proximity_placement_group_id: str | None = None
    scale_set_id: str | None = None  # recoveryVirtualMachineScaleSetId
    disk_encryption: DiskKeys | None = None  # the VM's diskEncryptionInfo (its OS disk's keys)


@dataclass(frozen=True)
class TestFailoverSpec:
    """A test failover of one A2A item into an isolated network (``A2ATestFailoverInput``)."""

    __test__ = False  # not a pytest class

    item: ItemRef
    network_id: str
    recovery_point_id: str | None  # None: the latest processed point (the SDK's "null means latest")
    failover_direction: str = "PrimaryToRecovery"  # PowerShell's -Direction: from where the item is active


@dataclass(frozen=True)
class UnplannedFailoverSpec:
    """An unplanned failover of one A2A item (``A2AUnplannedFailoverInput``), from where it is active now."""

    item: ItemRef
    failover_direction: str  # PrimaryToRecovery | RecoveryToPrimary: away from the item's activeLocation
    recovery_point_id: str | None  # None: the latest processed point (the SDK's "null means latest")
    source_site_operations: str = "Required"  # shut the source VM down first (PowerShell's -PerformSourceSideAction)


@dataclass(frozen=True)
class RecoveryPoint:
    """One recovery point of an item: its id, time and type (AppConsistent, CrashConsistent, ...)."""

    id: str
    time: str
    type: str


def pick_item(items: list[ReplicatedItem], name: str) -> ReplicatedItem | None:
    """The item called ``name``: by item name first (it never changes, even when the item moves), else by
    VM name when exactly one item has it (two VMs in different subscriptions may share a name)."""
    wanted = name.lower()
    by_item = [i for i in items if i.ref.name.lower() == wanted]
    if by_item:
        return by_item[0]
    by_vm = [i for i in items if i.vm_name.lower() == wanted]
    return by_vm[0] if len(by_vm) == 1 else None


class Cloud(Protocol):
    """The calls the service makes to Azure Resource Manager and Site Recovery."""

    def get_item(self, ref: ItemRef) -> ReplicatedItem | None:
        """The replicated item, or None when it does not exist."""

    def find_item(self, vault: VaultRef, vm_name: str) -> ReplicatedItem | None:
        """The vault's replicated item for a VM (by item name or VM friendly name)."""

    def list_items(self, vault: VaultRef) -> list[ReplicatedItem]:
        """Every replicated item of the vault."""

    def get_fabric(self, vault: VaultRef, fabric: str) -> Fabric | None:
        """A fabric of the vault."""

    def container_mappings(self, vault: VaultRef) -> list[ContainerMapping]:
        """Every protection container mapping of the vault."""

    def network_mappings(self, vault: VaultRef) -> list[NetworkMapping]:
        """Every network mapping of the vault."""

    def get_resource(self, arm_id: str) -> Resource | None:
        """A plain ARM resource (resource group, storage account, availability set, ...) or None when absent."""

    def get_vm(self, arm_id: str) -> VirtualMachine | None:
        """A virtual machine, or None when it does not exist."""

    def get_disk(self, arm_id: str) -> Disk | None:
        """A managed disk (with its encryption settings), or None when it does not exist."""

    def get_disk_encryption_set(self, arm_id: str) -> DiskEncryptionSet | None:
        """A disk encryption set, or None when it does not exist."""

    def list_vms(self, subscription_id: str) -> list[VirtualMachine]:
        """Every virtual machine of a subscription."""

    def list_storage_accounts(self, resource_group_id: str) -> list[StorageAccount]:
        """The storage accounts of a resource group."""

    def availability(self, arm_id: str) -> AvailabilityStatus | None:
        """Resource Health's current availability status of a resource, or None when it has none for it."""

    def get_storage_account(self, arm_id: str) -> StorageAccount | None:
        """A storage account (with its kind, SKU and provisioning state), or None when it does not exist."""

    def check_storage_account_name(self, subscription_id: str, name: str) -> NameAvailability:
        """Whether a storage account name is valid and free anywhere in Azure."""

    def create_storage_account(self, spec: StorageAccountSpec) -> StorageAccount | None:
        """Ask Storage to create an account; the account when Azure answered at once, None while it is
        being created (read it again until it is usable). Never waits."""

    def switch_protection(self, spec: SwitchProtectionSpec) -> str:
        """Start reprotect; returns the ASR job's name (the operation's guid)."""

    def test_failover(self, spec: TestFailoverSpec) -> str:
        """Start a test failover; the ASR job's name."""

    def test_failover_cleanup(self, item: ItemRef, comments: str) -> str:
        """Start the cleanup of a test failover; the ASR job's name."""

    def unplanned_failover(self, spec: UnplannedFailoverSpec) -> str:
        """Start an unplanned failover of ``spec.item``; the ASR job's name (never waits)."""

    def failover_commit(self, item: ItemRef) -> str:
        """Commit ``item``'s failover; the ASR job's name (never waits)."""

    def list_recovery_points(self, item: ItemRef) -> list[RecoveryPoint]:
        """The item's recovery points, as Site Recovery lists them."""

    def get_job(self, vault: VaultRef, job_name: str) -> AsrJob | None:
        """An ASR job, or None when it does not exist."""

    def cancel_job(self, vault: VaultRef, job_name: str) -> None:
        """Ask Azure to cancel an ASR job."""

    def restart_job(self, vault: VaultRef, job_name: str) -> None:
        """Ask Azure to restart a failed ASR job (ReplicationJobs_Restart); it runs again under its name."""

    def list_jobs(self, vault: VaultRef) -> list[AsrJob]:
        """The vault's ASR jobs, newest first."""

    def list_vault_ids(self, subscription_id: str) -> list[str]:
        """The ARM ids of the Recovery Services vaults in a subscription."""


@runtime_checkable
class FleetReads(Protocol):
    """Whole-list reads (one paged call each) that let a fleet's checks and polls share Azure's answers."""

    def list_vault_items_for_checks(self, vault: VaultRef) -> list[ReplicatedItem]:
        """Every replicated item of the vault (``ReplicationProtectedItems_List``, all pages)."""

    def list_subscription_vms(self, subscription_id: str) -> list[VirtualMachine]:
        """Every virtual machine of a subscription (``VirtualMachines_ListAll``, all pages)."""

    def list_subscription_availability(self, subscription_id: str) -> dict[str, AvailabilityStatus]:
        """Resource Health's current status of every resource of a subscription, by lowercase resource id
        (``AvailabilityStatuses_ListBySubscriptionId``, all pages)."""

    def list_vault_jobs_started_since(self, vault: VaultRef, since: datetime) -> list[AsrJob]:
        """The vault's ASR jobs that started at or after ``since`` (``ReplicationJobs_List`` with
        ``$filter=StartTime eq '…'``, all pages)."""
