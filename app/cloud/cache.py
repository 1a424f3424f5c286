"""A ``Cloud`` decorator that remembers slow-changing vault data for a few seconds.

Fabrics, container and network mappings, resource groups and storage-account lists are the same for
every VM of a vault; reading them once per vault instead of once per VM keeps ARM reads per VM low
under throttling. A VM's Resource Health status is remembered for the same few seconds (Resource Health
itself lags minutes), so a batch of checks retried after Azure throttled it does not read it again. Items,
single VMs (one deleted or moved moments ago must be seen), ASR jobs, storage accounts (a cache account's
provisioning state changes while it is created), the vault list (the inventory keeps its own) and every write
always go to Azure (``app.cloud.forwarding``).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from datetime import datetime
from typing import TYPE_CHECKING, Any, TypeVar

from app.cloud.forwarding import ForwardingCloud
from app.cloud.ids import ItemRef, VaultRef, is_resource_group_id
from app.cloud.types import (
    AsrJob,
    AvailabilityStatus,
    Cloud,
    ContainerMapping,
    DiskEncryptionSet,
    Fabric,
    FleetReads,
    NetworkMapping,
    ReplicatedItem,
    Resource,
    StorageAccount,
    VirtualMachine,
    pick_item,
)

if TYPE_CHECKING:
    from app.cloud.snapshots import Snapshots

T = TypeVar("T")


class CachedCloud(ForwardingCloud):
    """Memoises vault-level reads of ``inner`` for ``ttl_seconds``."""

    def __init__(
        self,
        inner: Cloud,
        *,
        ttl_seconds: float = 30.0,
        clock: Callable[[], float] = time.monotonic,
        snapshots: Snapshots | None = None,
    ):
        super().__init__(inner)
        # The shared list snapshots ``app.cloud.snapshots.listing`` answers checks and polls from (None: off).
        self.snapshots = snapshots
        self._ttl = ttl_seconds
        self._clock = clock
        self._entries: dict[tuple[str, ...], tuple[float, Any]] = {}
        self._locks: dict[tuple[str, ...], threading.Lock] = {}
        self._guard = threading.Lock()

    def _remember(self, key: tuple[str, ...], load: Callable[[], T]) -> T:
        with self._guard:
            lock = self._locks.setdefault(key, threading.Lock())
        with lock:  # one load per key at a time: concurrent checks of one vault share a read
            hit = self._entries.get(key)
            if hit is not None and self._clock() - hit[0] < self._ttl:
                value: T = hit[1]
                return value
            value = load()
            self._entries[key] = (self._clock(), value)
            return value

    def find_item(self, vault: VaultRef, vm_name: str) -> ReplicatedItem | None:
        # Names map to item ids for a while; the item itself (its state) is always read fresh.
        ref = self._item_index(vault).get(vm_name.lower())
        if ref is not None:
            item = self.inner.get_item(ref)
            if item is not None:
                return item
        return self.inner.find_item(vault, vm_name)  # moved or new since the index was built

    def _item_index(self, vault: VaultRef) -> dict[str, ItemRef]:
        def build() -> dict[str, ItemRef]:
            items = self.inner.list_items(vault)
            names = {i.ref.name.lower() for i in items} | {i.vm_name.lower() for i in items}
            return {name: found.ref for name in names if (found := pick_item(items, name)) is not None}

        return self._remember(("item_index", vault.key), build)

    def get_fabric(self, vault: VaultRef, fabric: str) -> Fabric | None:
        return self._remember(("fabric", vault.key, fabric.lower()), lambda: self.inner.get_fabric(vault, fabric))

    def container_mappings(self, vault: VaultRef) -> list[ContainerMapping]:
        return self._remember(("container_mappings", vault.key), lambda: self.inner.container_mappings(vault))

    def network_mappings(self, vault: VaultRef) -> list[NetworkMapping]:
        return self._remember(("network_mappings", vault.key), lambda: self.inner.network_mappings(vault))

    def get_resource(self, arm_id: str) -> Resource | None:
        if is_resource_group_id(arm_id):  # a resource group: shared by every VM of a fleet
            return self._remember(("resource", arm_id.lower()), lambda: self.inner.get_resource(arm_id))
        return self.inner.get_resource(arm_id)

    def get_disk_encryption_set(self, arm_id: str) -> DiskEncryptionSet | None:
        # Shared by every VM whose disks use it, and slow to change: remembered like vault data.
        return self._remember(("des", arm_id.lower()), lambda: self.inner.get_disk_encryption_set(arm_id))

    def list_vms(self, subscription_id: str) -> list[VirtualMachine]:
        return self._remember(("vms", subscription_id.lower()), lambda: self.inner.list_vms(subscription_id))

    def list_storage_accounts(self, resource_group_id: str) -> list[StorageAccount]:
        key = ("storage_accounts", resource_group_id.lower())
        return self._remember(key, lambda: self.inner.list_storage_accounts(resource_group_id))

    def availability(self, arm_id: str) -> AvailabilityStatus | None:
        # Resource Health itself lags minutes behind; a throttled batch retried moments later reuses it.
        return self._remember(("health", arm_id.lower()), lambda: self.inner.availability(arm_id))

    # -- whole lists (``app.cloud.types.FleetReads``): never remembered here, ``app.cloud.snapshots`` does --

    def list_vault_items_for_checks(self, vault: VaultRef) -> list[ReplicatedItem]:
        """Every replicated item of the vault (one paged list)."""
        return self._fleet().list_vault_items_for_checks(vault)

    def list_subscription_vms(self, subscription_id: str) -> list[VirtualMachine]:
        """Every VM of the subscription (one paged list)."""
        return self._fleet().list_subscription_vms(subscription_id)

    def list_subscription_availability(self, subscription_id: str) -> dict[str, AvailabilityStatus]:
        """Resource Health's status of every resource of the subscription (one paged list)."""
        return self._fleet().list_subscription_availability(subscription_id)

    def list_vault_jobs_started_since(self, vault: VaultRef, since: datetime) -> list[AsrJob]:
        """The vault's ASR jobs started since ``since`` (one paged, filtered list)."""
        return self._fleet().list_vault_jobs_started_since(vault, since)

    def _fleet(self) -> FleetReads:
        if not isinstance(self.inner, FleetReads):
            raise TypeError("the wrapped cloud has no whole-list reads")
        return self.inner
