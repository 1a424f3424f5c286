"""The base of the ``Cloud`` decorators (``app.cloud.cache``, ``app.cloud.snapshots``): every call goes to the
wrapped cloud as it is, so a decorator names only the reads it answers itself."""

from __future__ import annotations

from app.cloud.ids import ItemRef, VaultRef
from app.cloud.types import (
    AsrJob,
    AvailabilityStatus,
    Cloud,
    ContainerMapping,
    Disk,
    DiskEncryptionSet,
    Fabric,
    NameAvailability,
    NetworkMapping,
    RecoveryPoint,
    ReplicatedItem,
    Resource,
    StorageAccount,
    StorageAccountSpec,
    SwitchProtectionSpec,
    TestFailoverSpec,
    UnplannedFailoverSpec,
    VirtualMachine,
)


class ForwardingCloud:
    """A ``Cloud`` that passes every call to ``inner``; subclasses override the reads they answer."""

    def __init__(self, inner: Cloud):
        self.inner = inner

    def get_item(self, ref: ItemRef) -> ReplicatedItem | None:
        return self.inner.get_item(ref)

    def find_item(self, vault: VaultRef, vm_name: str) -> ReplicatedItem | None:
        return self.inner.find_item(vault, vm_name)

    def list_items(self, vault: VaultRef) -> list[ReplicatedItem]:
        return self.inner.list_items(vault)

    def get_fabric(self, vault: VaultRef, fabric: str) -> Fabric | None:
        return self.inner.get_fabric(vault, fabric)

    def container_mappings(self, vault: VaultRef) -> list[ContainerMapping]:
        return self.inner.container_mappings(vault)

    def network_mappings(self, vault: VaultRef) -> list[NetworkMapping]:
        return self.inner.network_mappings(vault)

    def get_resource(self, arm_id: str) -> Resource | None:
        return self.inner.get_resource(arm_id)

    def get_vm(self, arm_id: str) -> VirtualMachine | None:
        return self.inner.get_vm(arm_id)

    def get_disk(self, arm_id: str) -> Disk | None:
        return self.inner.get_disk(arm_id)

    def get_disk_encryption_set(self, arm_id: str) -> DiskEncryptionSet | None:
        return self.inner.get_disk_encryption_set(arm_id)

    def list_vms(self, subscription_id: str) -> list[VirtualMachine]:
        return self.inner.list_vms(subscription_id)

    def list_storage_accounts(self, resource_group_id: str) -> list[StorageAccount]:
        return self.inner.list_storage_accounts(resource_group_id)

    def availability(self, arm_id: str) -> AvailabilityStatus | None:
        return self.inner.availability(arm_id)

    def get_storage_account(self, arm_id: str) -> StorageAccount | None:
        return self.inner.get_storage_account(arm_id)

    def check_storage_account_name(self, subscription_id: str, name: str) -> NameAvailability:
        return self.inner.check_storage_account_name(subscription_id, name)

    def create_storage_account(self, spec: StorageAccountSpec) -> StorageAccount | None:
        return self.inner.create_storage_account(spec)

    def switch_protection(self, spec: SwitchProtectionSpec) -> str:
        return self.inner.switch_protection(spec)

    def test_failover(self, spec: TestFailoverSpec) -> str:
        return self.inner.test_failover(spec)

    def test_failover_cleanup(self, item: ItemRef, comments: str) -> str:
        return self.inner.test_failover_cleanup(item, comments)

    def unplanned_failover(self, spec: UnplannedFailoverSpec) -> str:
        return self.inner.unplanned_failover(spec)

    def failover_commit(self, item: ItemRef) -> str:
        return self.inner.failover_commit(item)

    def list_recovery_points(self, item: ItemRef) -> list[RecoveryPoint]:
        return self.inner.list_recovery_points(item)

    def get_job(self, vault: VaultRef, job_name: str) -> AsrJob | None:
        return self.inner.get_job(vault, job_name)

    def cancel_job(self, vault: VaultRef, job_name: str) -> None:
        self.inner.cancel_job(vault, job_name)

    def restart_job(self, vault: VaultRef, job_name: str) -> None:
        self.inner.restart_job(vault, job_name)

    def list_jobs(self, vault: VaultRef) -> list[AsrJob]:
        return self.inner.list_jobs(vault)

    def list_vault_ids(self, subscription_id: str) -> list[str]:
        return self.inner.list_vault_ids(subscription_id)

    def close(self) -> None:
        """Close the wrapped cloud, if it holds connections."""
        close = getattr(self.inner, "close", None)
        if callable(close):
            close()
