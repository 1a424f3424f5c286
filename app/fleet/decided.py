"""The fleet as decided: every VM of a set of vault snapshots joined with our latest job, given its reprotect
status and placement, in the inventory's order (vault, VM name, item id).

Deciding 2,000 VMs costs some 30 ms of CPU (one job query, the status rules, the original VMs' lists);
dashboards poll ``GET /vms`` and its summary far more often than that changes, so the decided fleet of each
set of vaults (a caller's scope) is kept and every caller filters and pages the same list. It is renewed in
the background once older than ``fleet.view_ttl_seconds`` (2 s) or when a vault's list was read again, while
callers are answered from the kept one (``app.fleet.kept``); only the first caller, or one finding it older
than ``fleet.view_max_age_seconds``, waits for a decision.
"""

from __future__ import annotations

import threading
import weakref
from collections.abc import Callable, Hashable
from dataclasses import dataclass
from datetime import datetime
from functools import cached_property
from typing import Any, TypeVar, cast

from app.cloud.ids import parse_resource_id
from app.cloud.types import Cloud, ReplicatedItem
from app.db import transaction
from app.errors import CloudError
from app.fleet.jobs import LatestJob, latest_by_vm
from app.fleet.kept import KeptViews
from app.fleet.schemas import VmJobOut, VmOut
from app.fleet.snapshot import VaultSnapshot
from app.fleet.status import ReprotectStatus, Verdict, decide, source_vm_refusal
from app.job.intake import vm_key
from app.job.present import job_href
from app.job.service import Deps

_MAX_VIEWS = 64  # distinct vault sets (callers' scopes) kept at once
_MAX_DERIVED = 256  # filtered lists and summaries remembered per decided fleet
T = TypeVar("T")


@dataclass(frozen=True)
class Placement:
    """Where a replicated item's VM runs now and would be reprotected to (from Azure's item alone)."""

    subscription_id: str
    resource_group: str | None
    source_region: str
    target_region: str


@dataclass(frozen=True)
class FleetVm:
    """One VM of the inventory as decided, before rendering: filters, order, pages and counts read these
    fields, and only the VMs a page shows are rendered (:meth:`out`), not every VM of the fleet."""

    item: ReplicatedItem
    job: LatestJob | None
    verdict: Verdict
    placement: Placement

    @property
    def vm_name(self) -> str:
        return self.item.vm_name

    @property
    def item_id(self) -> str:
        return self.item.ref.id

    @property
    def vault_id(self) -> str:
        return self.item.ref.vault.id

    @property
    def subscription_id(self) -> str:
        return self.placement.subscription_id

    @property
    def source_region(self) -> str:
        return self.placement.source_region

    @property
    def target_region(self) -> str:
        return self.placement.target_region

    @property
    def reprotect_status(self) -> ReprotectStatus:
        return self.verdict.status

    @property
    def reason_code(self) -> str | None:
        return self.verdict.reason_code

    def out(self) -> VmOut:
        """The VM as ``GET /vms`` shows it."""
        return _vm_out(self)

    @cached_property
    def document(self) -> dict[str, Any]:
        """:meth:`out` as JSON-ready data, built once per decided VM however many pages and callers show it."""
        return self.out().model_dump(mode="json")


class DecidedFleet:
    """The decided VMs in order, and what callers derived from them (a filter's matches, a summary's
    counts), remembered while this fleet is kept: a dashboard's poll then costs a lookup and its page."""

    def __init__(self, vms: list[FleetVm], *, read_at: datetime | None = None):
        self.vms = vms
        self.read_at = read_at  # when the oldest vault list it was decided from was read
        self._derived: dict[Hashable, object] = {}
        self._lock = threading.Lock()

    def derived(self, key: Hashable, compute: Callable[[], T]) -> T:
        """``compute()``, once per ``key`` for this fleet."""
        with self._lock:
            if key in self._derived:
                return cast(T, self._derived[key])
        value = compute()
        with self._lock:
            if len(self._derived) >= _MAX_DERIVED:
                self._derived.clear()
            self._derived[key] = value
        return value


def decided_fleet(
    deps: Deps, snapshots: list[VaultSnapshot], *, ttl_seconds: float, max_age_seconds: float
) -> DecidedFleet:
    """Every VM of these snapshots, decided and in order: the fleet kept for the same vaults, renewed in the
    background once older than ``ttl_seconds`` or decided from other snapshots; decided before answering
    when none is kept or it is older than ``max_age_seconds``. ``ttl_seconds`` 0: decided now, not kept."""
    vaults = tuple(sorted(s.vault_id.lower() for s in snapshots))  # the key: no view shows another vault set
    basis = frozenset((s.vault_id.lower(), s.read_at, len(s.items or ())) for s in snapshots)
    read_at = min((s.read_at for s in snapshots if s.read_at is not None), default=None)

    def decide_now() -> DecidedFleet:  # per decision, never per call: every caller passes through here
        return DecidedFleet(
            _decide(deps, [(item, s.read_at) for s in snapshots for item in s.items or ()]), read_at=read_at
        )

    return _kept_for(deps).get(vaults, basis, decide_now, ttl=ttl_seconds, max_age=max_age_seconds)


# One memory per database (session factory): a container built later never sees another database's fleet.
_KEPT: weakref.WeakKeyDictionary[object, KeptViews[tuple[str, ...], DecidedFleet]] = weakref.WeakKeyDictionary()
_KEPT_LOCK = threading.Lock()


def _kept_for(deps: Deps) -> KeptViews[tuple[str, ...], DecidedFleet]:
    kept = _KEPT.get(deps.sessions)
    if kept is not None:
        return kept
    with _KEPT_LOCK:
        kept = _KEPT.get(deps.sessions)
        if kept is None:
            kept = _KEPT[deps.sessions] = KeptViews(max_keys=_MAX_VIEWS, name="decided fleet")
        return kept


def order_key(vm: FleetVm | VmOut) -> tuple[str, str, str]:
    """The inventory's stable order: vault, then VM name, then item id."""
    return (vm.vault_id.lower(), vm.vm_name.lower(), vm.item_id.lower())


def _decide(deps: Deps, read: list[tuple[ReplicatedItem, datetime | None]]) -> list[FleetVm]:
    """``read``: each item with the time its vault's list was read."""
    items = [item for item, _ in read]
    keys = [vm_key(i.ref.vault.id, i.ref.name) for i in items]
    with transaction(deps.sessions) as session:
        jobs = latest_by_vm(session, keys)
    latest = [jobs.get(key) for key in keys]
    verdicts = {item.ref.id: _verdict(item, job, read_at) for (item, read_at), job in zip(read, latest, strict=True)}
    _check_source_vms(deps.cloud, items, verdicts)
    decided = [
        FleetVm(item=i, job=job, verdict=verdicts[i.ref.id], placement=_placement(i))
        for i, job in zip(items, latest, strict=True)
    ]
    decided.sort(key=order_key)
    return decided


def _verdict(item: ReplicatedItem, job: LatestJob | None, read_at: datetime | None) -> Verdict:
    if job is None:
        return decide(item, job_state=None, job_error_code=None)
    since_read = job.finished_at is not None and (read_at is None or job.finished_at > read_at)
    return decide(item, job_state=job.state, job_error_code=job.error_code, protected_since_read=since_read)


def _check_source_vms(cloud: Cloud, items: list[ReplicatedItem], verdicts: dict[str, Verdict]) -> None:
    """Downgrade VMs that look ready but whose original VM is gone or moved: one VM list per subscription."""
    ready = [i for i in items if verdicts[i.ref.id].status == ReprotectStatus.NEEDS_REPROTECT and i.source_vm_id]
    present: dict[str, set[str] | None] = {}
    for item in ready:
        sub = parse_resource_id(str(item.source_vm_id)).subscription_id.lower()
        if sub not in present:
            try:
                present[sub] = {vm.id.lower() for vm in cloud.list_vms(sub)}
            except CloudError:  # left as it is: POST /reprotect checks it again anyway
                present[sub] = None
        listed = present[sub]
        if listed is not None and str(item.source_vm_id).lower() not in listed:
            verdicts[item.ref.id] = source_vm_refusal(cloud, item) or verdicts[item.ref.id]


def _placement(item: ReplicatedItem) -> Placement:
    failed_over = item.active_location.lower() == "recovery"
    running_vm = (item.running_vm_id if failed_over else item.source_vm_id) or item.source_vm_id or item.running_vm_id
    running = parse_resource_id(running_vm) if running_vm else None
    return Placement(
        subscription_id=running.subscription_id if running else item.ref.vault.subscription_id,
        resource_group=running.resource_group if running else None,
        source_region=item.recovery_location if failed_over else item.primary_location,
        target_region=item.primary_location if failed_over else item.recovery_location,
    )


def _vm_out(vm: FleetVm) -> VmOut:
    item, job, verdict, place = vm.item, vm.job, vm.verdict, vm.placement
    vault = item.ref.vault
    return VmOut(
        vm_name=item.vm_name,
        item_id=item.ref.id,
        vault_id=vault.id,
        vault_subscription_id=vault.subscription_id,
        subscription_id=place.subscription_id,
        resource_group=place.resource_group,
        source_region=place.source_region,
        target_region=place.target_region,
        protection_state=item.protection_state,
        protection_state_description=item.protection_state_description,
        active_location=item.active_location,
        allowed_operations=list(item.allowed_operations),
        replication_health=item.replication_health,
        reprotect_status=verdict.status,
        reason_code=verdict.reason_code,
        reason=verdict.reason,
        job=None
        if job is None
        else VmJobOut(
            id=job.id,
            request_id=job.request_id,
            state=job.state,
            progress_percent=job.progress_percent,
            eta=job.eta,
            error_code=job.error_code,
            href=job_href(job.id),
        ),
    )
