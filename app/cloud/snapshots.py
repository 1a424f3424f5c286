"""Fleet-scale reads: Azure read by the list, not by the VM, and shared by every check and poll.

A vault's replicated items, a subscription's VMs and Resource Health statuses, and a vault's recent ASR jobs
are each read with one paged call and kept for a few seconds (``snapshot_ttl_seconds``). However many
threads ask at once, a list is loaded once (single flight: the others wait for that load). 2,000 VMs of one
vault then cost a few dozen list pages instead of five reads each.

What may be a few seconds old, and what is not:

- A *positive* answer (the item, the VM, its health, its ASR job) may be up to one TTL old. The prerequisite
  checks run again in the worker, and the one action that matters reads the item itself just before it is
  sent (the worker's own ``get_item`` before switch protection, never answered from a list).
  A VM deleted in the last few seconds before a request is therefore accepted and then refused by Azure
  (the job fails with ASR's own error), instead of refused at intake: the same outcome as a VM deleted a
  moment after intake, which no check can prevent.
- A *negative* answer (no such item, VM or ASR job in the list, or an ASR job that failed or was cancelled)
  is confirmed with a direct read before anything is refused or failed for it: refusals stay exact
  (``vm_not_found``, ``source_vm_deleted``, ...) and a job restarted moments ago is seen running. So is a
  refusal judged from an item's state in a list (``ITEM_STATE_CODES``: the list may predate an operation of
  ours that just ended, e.g. a commit that still looks pending), at intake and in the worker's re-check.

Everything else goes to the wrapped ``Cloud`` unchanged.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar

from app.cloud.forwarding import ForwardingCloud
from app.cloud.ids import ItemRef, VaultRef, parse_resource_id, subscription_of
from app.cloud.types import (
    AsrJob,
    AvailabilityStatus,
    Cloud,
    FleetReads,
    ReplicatedItem,
    VirtualMachine,
)

T = TypeVar("T")
# ASR jobs are listed from this long ago (rounded down to the hour, so every poll of a day shares a list).
JOB_LOOKBACK = timedelta(hours=48)
# A listed ASR job in one of these states is read again by itself before a job is failed or cancelled for it.
_ENDED_BADLY = frozenset({"failed", "cancelled"})


@dataclass
class _Entry:
    at: float  # when its load ended: it is kept a TTL from then
    value: Any
    started: float = 0.0  # when its load began: Azure's answer is no older than this


class Snapshots:
    """Short-lived answers of list reads, each loaded once however many callers ask (per process)."""

    def __init__(self, ttl_seconds: float, *, clock: Callable[[], float] = time.monotonic):
        self.ttl = ttl_seconds
        self._clock = clock
        self._entries: dict[tuple[str, ...], _Entry] = {}
        self._locks: dict[tuple[str, ...], threading.Lock] = {}
        self._guard = threading.Lock()
        self.loads = 0  # how many list loads went to Azure (for tests and the benchmark)
        self.longest_load = 0.0  # seconds, the slowest load so far

    def now(self) -> float:
        """This store's clock (for ``not_before``)."""
        return self._clock()

    def get(self, key: tuple[str, ...], load: Callable[[], T], *, not_before: float | None = None) -> T:
        """The value under ``key`` if younger than the TTL (and, with ``not_before``, loaded from then on), else
        ``load()`` once for every waiting caller."""
        with self._guard:
            lock = self._locks.setdefault(key, threading.Lock())
        with lock:
            entry = self._entries.get(key)
            fresh_enough = not_before is None or (entry is not None and entry.started >= not_before)
            if entry is not None and self._clock() - entry.at < self.ttl and fresh_enough:
                value: T = entry.value
                return value
            started = self._clock()
            value = load()
            ended = self._clock()
            with self._guard:
                self.loads += 1
                self.longest_load = max(self.longest_load, ended - started)
            # Kept a full TTL from the end of the load: stamping it at the start would let a slow load (a large
            # vault's pages behind the read budget) expire as it lands and be read again at once, over and over.
            self._entries[key] = _Entry(ended, value, started)
            return value

    def oldest_answer_seconds(self) -> float:
        """How old an answer may be when served: the TTL plus the longest load seen (its first page was read
        that long before the load ended)."""
        return self.ttl + self.longest_load

    def clear(self) -> None:
        """Forget every answer: the next caller of each list reads Azure again."""
        with self._guard:
            self._entries.clear()


@dataclass(frozen=True)
class _ItemIndex:
    """A vault's items, looked up by id and by name without scanning (2,000 VMs: 2,000 lookups per batch)."""

    items: tuple[ReplicatedItem, ...]
    by_id: dict[str, ReplicatedItem]
    by_item_name: dict[str, ReplicatedItem]
    by_vm_name: dict[str, list[ReplicatedItem]]

    @classmethod
    def of(cls, items: list[ReplicatedItem]) -> _ItemIndex:
        by_item_name: dict[str, ReplicatedItem] = {}
        by_vm_name: dict[str, list[ReplicatedItem]] = {}
        for item in items:
            by_item_name.setdefault(item.ref.name.lower(), item)
            by_vm_name.setdefault(item.vm_name.lower(), []).append(item)
        return cls(tuple(items), {i.ref.id.strip("/").lower(): i for i in items}, by_item_name, by_vm_name)

    def named(self, name: str) -> ReplicatedItem | None:
        """``pick_item``'s rule: by item name first, else by VM name when exactly one item has it."""
        wanted = name.lower()
        found = self.by_item_name.get(wanted)
        if found is not None:
            return found
        by_vm = self.by_vm_name.get(wanted, [])
        return by_vm[0] if len(by_vm) == 1 else None


class SnapshotCloud(ForwardingCloud):
    """A ``Cloud`` whose per-item reads are answered from shared list snapshots (see the module docstring)."""

    def __init__(
        self,
        inner: Cloud,
        lists: FleetReads,
        snapshots: Snapshots,
        *,
        now: Callable[[], datetime] = lambda: datetime.now(UTC),
    ):
        super().__init__(inner)
        self._lists = lists
        self.snapshots = snapshots
        self._now = now
        self._not_before: float | None = None

    def afresh(self) -> SnapshotCloud:
        """This cloud answering only from lists read from now on (each read once, then shared by the caller's
        checks): for a decision that must see what our own operations just changed, such as a campaign's next
        step after its previous one ended."""
        fresh = SnapshotCloud(self.inner, self._lists, self.snapshots, now=self._now)
        fresh._not_before = self.snapshots.now()
        return fresh

    def _snapshot(self, key: tuple[str, ...], load: Callable[[], T]) -> T:
        return self.snapshots.get(key, load, not_before=self._not_before)

    # -- the lists -----------------------------------------------------------------------------------

    def _items(self, vault: VaultRef) -> _ItemIndex:
        def load() -> _ItemIndex:
            return _ItemIndex.of(self._lists.list_vault_items_for_checks(vault))

        return self._snapshot(("items", vault.key), load)

    def _vms(self, subscription_id: str) -> dict[str, VirtualMachine]:
        def load() -> dict[str, VirtualMachine]:
            return {vm.id.lower(): vm for vm in self._lists.list_subscription_vms(subscription_id)}

        return self._snapshot(("vms", subscription_id.lower()), load)

    def _health(self, subscription_id: str) -> dict[str, AvailabilityStatus]:
        key = ("health", subscription_id.lower())
        return self._snapshot(key, lambda: self._lists.list_subscription_availability(subscription_id))

    def _jobs(self, vault: VaultRef) -> dict[str, AsrJob]:
        since = (self._now() - JOB_LOOKBACK).replace(minute=0, second=0, microsecond=0)

        def load() -> dict[str, AsrJob]:
            return {j.name.lower(): j for j in self._lists.list_vault_jobs_started_since(vault, since)}

        return self._snapshot(("jobs", vault.key, since.isoformat()), load)

    def prefetch(self, vaults: list[VaultRef]) -> None:
        """Load the lists a batch of checks will ask for side by side (each list's pages follow one another):
        the vaults' items, then the VMs and Resource Health of every subscription their VMs live in."""
        with ThreadPoolExecutor(max_workers=4) as pool:
            indexes = list(pool.map(self._items, vaults))
            subscriptions = {
                subscription_of(vm_id).lower()
                for index in indexes
                for item in index.items
                for vm_id in (item.source_vm_id, item.running_vm_id)
                if vm_id
            }
            loads = [pool.submit(read, sub) for sub in sorted(subscriptions) for read in (self._vms, self._health)]
            for load in loads:
                load.result()

    # -- per-item reads answered from the lists ------------------------------------------------------

    def get_item(self, ref: ItemRef) -> ReplicatedItem | None:
        found = self._items(ref.vault).by_id.get(ref.id.strip("/").lower())
        return found if found is not None else self.inner.get_item(ref)  # absent: confirmed by Azure itself

    def find_item(self, vault: VaultRef, vm_name: str) -> ReplicatedItem | None:
        found = self._items(vault).named(vm_name)
        return found if found is not None else self.inner.find_item(vault, vm_name)

    def list_items(self, vault: VaultRef) -> list[ReplicatedItem]:
        return list(self._items(vault).items)

    def get_vm(self, arm_id: str) -> VirtualMachine | None:
        found = self._vms(parse_resource_id(arm_id).subscription_id).get(arm_id.lower())
        return found if found is not None else self.inner.get_vm(arm_id)

    def list_vms(self, subscription_id: str) -> list[VirtualMachine]:
        return list(self._vms(subscription_id).values())

    def availability(self, arm_id: str) -> AvailabilityStatus | None:
        found = self._health(subscription_of(arm_id)).get(arm_id.lower())
        return found if found is not None else self.inner.availability(arm_id)

    def get_job(self, vault: VaultRef, job_name: str) -> AsrJob | None:
        found = self._jobs(vault).get(job_name.lower())
        if found is None or found.state.lower() in _ENDED_BADLY:  # a Restart may have revived it since
            return self.inner.get_job(vault, job_name)
        return found


def listing(cloud: Cloud) -> Cloud:
    """``cloud`` with its per-item reads answered from the shared list snapshots, when it offers them (a
    ``FleetReads`` cloud carrying a ``snapshots`` store, as ``app.bootstrap`` builds it); else ``cloud``.

    For checks and polls only: decisions that need the freshest state (switch protection, cancel) use
    ``cloud`` itself."""
    if isinstance(cloud, SnapshotCloud):
        return cloud
    store = getattr(cloud, "snapshots", None)
    if isinstance(store, Snapshots) and isinstance(cloud, FleetReads):
        return SnapshotCloud(cloud, cloud, store)
    return cloud
