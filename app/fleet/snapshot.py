"""The inventory's memory: each watched vault's item list, read with one paged call and kept briefly.

A copy younger than the TTL is served as is; an older one (up to the maximum age) is served while one
background read refreshes it; a missing or too old copy is read at once. However many callers ask, each
vault has at most one read in flight (single flight): the others wait for it or get the copy in hand.
"""

from __future__ import annotations

import threading
import time
import weakref
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime

from app.cloud.ids import parse_vault_id
from app.cloud.types import Cloud, ReplicatedItem
from app.errors import CloudError, CloudThrottled, CloudTransient
from app.settings import FleetSettings

ERROR_RETRY_SECONDS = 5.0  # a vault Azure would not list is asked again after this, not on every call


@dataclass(frozen=True)
class Unreadable:
    """A vault (or a subscription searched for vaults) Azure would not list, and why."""

    vault_id: str | None
    subscription_id: str | None
    code: str
    message: str
    status: int | None = None  # Azure's HTTP status, when it answered
    passing: bool = False  # throttled or transient: expected to pass


@dataclass(frozen=True)
class VaultSnapshot:
    """One vault's items as last read (``items`` None when never read successfully)."""

    vault_id: str
    items: tuple[ReplicatedItem, ...] | None
    read_at: datetime | None
    checked: float  # monotonic time of the last attempt
    error: Unreadable | None = None


@dataclass
class _Slot:
    lock: threading.Lock = field(default_factory=threading.Lock)
    snapshot: VaultSnapshot | None = None
    refreshing: bool = False


class Inventory:
    """Per-process snapshots of the watched vaults' items over one ``Cloud``."""

    def __init__(
        self, cloud: Cloud, settings: FleetSettings, *, workers: int = 4, clock: Callable[[], float] = time.monotonic
    ):
        # Weakly held: the registry below maps the cloud to this inventory, which must not keep it alive.
        self._cloud_ref = weakref.ref(cloud)
        self._settings = settings
        self._clock = clock
        self._slots: dict[str, _Slot] = {}
        self._guard = threading.Lock()
        self._pool = ThreadPoolExecutor(max_workers=max(1, workers), thread_name_prefix="fleet-refresh")
        self._discovered: tuple[float, list[str], list[Unreadable]] | None = None
        self._discovery_lock = threading.Lock()

    def watched(self) -> tuple[list[str], list[Unreadable]]:
        """The vault ids to watch (configured and discovered), and subscriptions that could not be searched."""
        ids = {parse_vault_id(v).key: parse_vault_id(v).id for v in self._settings.vault_ids}
        found, problems = self._discover()
        for vault_id in found:
            ids.setdefault(vault_id.lower(), vault_id)
        return sorted(ids.values(), key=str.lower), problems

    def snapshots(self, vault_ids: list[str]) -> list[VaultSnapshot]:
        """A usable snapshot of each vault, reading (in parallel, one read per vault) the ones missing."""
        futures = [self._pool.submit(self._snapshot, v) for v in vault_ids]
        return [f.result() for f in futures]

    def _slot(self, vault_id: str) -> _Slot:
        with self._guard:
            return self._slots.setdefault(vault_id.lower(), _Slot())

    def _snapshot(self, vault_id: str) -> VaultSnapshot:
        slot = self._slot(vault_id)
        now = self._clock()
        held = slot.snapshot
        if held is not None and self._usable(held, now):
            if self._stale(held, now):
                self._refresh_later(vault_id, slot)
            return held
        with slot.lock:  # single flight: a second caller waits for the first one's read
            held, now = slot.snapshot, self._clock()
            if held is not None and self._usable(held, now) and not self._stale(held, now):
                return held  # read by the caller this one waited for
            return self._read(vault_id, slot)

    def _usable(self, snap: VaultSnapshot, now: float) -> bool:
        if snap.error is not None and snap.items is None:
            return now - snap.checked < ERROR_RETRY_SECONDS
        return now - snap.checked < self._settings.snapshot_max_age_seconds

    def _stale(self, snap: VaultSnapshot, now: float) -> bool:
        return now - snap.checked >= self._settings.snapshot_ttl_seconds

    def _refresh_later(self, vault_id: str, slot: _Slot) -> None:
        with self._guard:
            if slot.refreshing:
                return
            slot.refreshing = True

        def refresh() -> None:
            try:
                with slot.lock:
                    self._read(vault_id, slot)
            finally:
                slot.refreshing = False

        self._pool.submit(refresh)

    def _read(self, vault_id: str, slot: _Slot) -> VaultSnapshot:
        checked = self._clock()
        try:
            items = tuple(self._cloud().list_items(parse_vault_id(vault_id)))
        except CloudError as exc:
            old = slot.snapshot
            problem = Unreadable(
                vault_id=vault_id,
                subscription_id=None,
                code=exc.code,
                message=exc.message,
                status=exc.status,
                passing=isinstance(exc, CloudThrottled | CloudTransient),
            )
            keep = old.items if old is not None else None
            slot.snapshot = VaultSnapshot(vault_id, keep, old.read_at if old else None, checked, problem)
            return slot.snapshot
        slot.snapshot = VaultSnapshot(vault_id, items, datetime.now(UTC), checked)
        return slot.snapshot

    def _discover(self) -> tuple[list[str], list[Unreadable]]:
        subscriptions = self._settings.discover_in_subscriptions
        if not subscriptions:
            return [], []
        with self._discovery_lock:
            now = self._clock()
            if self._discovered is not None and now - self._discovered[0] < self._settings.snapshot_ttl_seconds:
                return self._discovered[1], self._discovered[2]
            found: list[str] = []
            problems: list[Unreadable] = []
            for sub in subscriptions:
                try:
                    found += self._cloud().list_vault_ids(sub)
                except CloudError as exc:
                    problems.append(Unreadable(None, sub, exc.code, exc.message))
            self._discovered = (now, found, problems)
            return found, problems

    def cloud_ref(self) -> Cloud | None:
        """The cloud this inventory reads, while it exists."""
        return self._cloud_ref()

    def _cloud(self) -> Cloud:
        cloud = self._cloud_ref()
        if cloud is None:
            raise CloudTransient("The Azure clients of this process were closed.")
        return cloud

    def close(self) -> None:
        """Stop the refresh threads."""
        self._pool.shutdown(wait=False, cancel_futures=True)


_inventories: dict[int, Inventory] = {}  # by id() of the cloud; dropped when the cloud is collected
_registry_lock = threading.Lock()


def inventory_for(cloud: Cloud, settings: FleetSettings, *, workers: int = 4) -> Inventory:
    """The process's inventory over ``cloud`` (one per cloud object, built on first use)."""
    with _registry_lock:
        found = _inventories.get(id(cloud))
        if found is None or found.cloud_ref() is not cloud:
            found = Inventory(cloud, settings, workers=workers)
            _inventories[id(cloud)] = found
            weakref.finalize(cloud, _forget, id(cloud), found)
        return found


def _forget(key: int, inventory: Inventory) -> None:
    with _registry_lock:
        if _inventories.get(key) is inventory:
            del _inventories[key]
    inventory.close()
