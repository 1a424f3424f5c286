"""Is the target region available to reprotect into? What the docs mean: its resources can be accessed (and
so created), and Azure is not reporting an outage there.

Two signals, read once per VM and kept in the plan (``TargetRegionCheck``):

1. The region's ARM endpoints answer reads of what reprotect writes to: the original resource group and the
   original VM (whose answer names its disks, served by the same regional Compute provider). These reads are
   the ones the plan needs anyway; they are made here once and handed on.
2. Azure Resource Health's current status of the original VM. Only platform trouble (Unavailable or
   Degraded with a platform-initiated, unplanned or outage cause) refuses; a VM its owner stopped or
   deallocated, Unknown, planned maintenance, or Resource Health failing are shown, never blocking.

The spellings of ``reasonType``, ``context`` and ``healthEventCause`` are not fixed publicly (the REST spec
says "Examples are planned, unplanned, user initiated or an outage etc."), so they are compared with case,
spaces, dashes and underscores folded away.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any, TypeVar

from app.cloud.ids import resource_group_id_of
from app.cloud.types import AvailabilityStatus, Cloud, ReplicatedItem, Resource, VirtualMachine
from app.errors import CloudError, CloudPermanent, CloudThrottled
from app.job.plan import RegionHealth, RegionRead, TargetRegionCheck

T = TypeVar("T")

# Folded (lowercase letters only) words Resource Health uses for who caused an unavailability.
_USER = frozenset({"userinitiated", "customerinitiated", "vminitiated", "user", "customer"})
_PLATFORM = frozenset({"platforminitiated", "platform"})
_UNPLANNED = frozenset({"unplanned", "outage", "serviceoutage", "regionaloutage", "incident"})
_PLANNED = frozenset({"planned", "plannedmaintenance", "maintenance"})
_DOWN = frozenset({"unavailable", "degraded"})


class RegionRefused(Exception):
    """The target region cannot take a reprotect now: a stable code and what to do."""

    def __init__(self, code: str, message: str, check: TargetRegionCheck):
        super().__init__(message)
        self.code = code
        self.message = message
        self.check = check

    def details(self) -> dict[str, Any]:
        """What was asked and what answered, for the caller."""
        return {"target_region": asdict(self.check)}


@dataclass(frozen=True)
class RegionFindings:
    """The check, and the reads the plan reuses (no second read of the same resource)."""

    check: TargetRegionCheck
    source_vm: VirtualMachine | None
    resource_group: Resource | None


def fold(word: str | None) -> str:
    """``"User Initiated"``, ``"UserInitiated"``, ``"user-initiated"`` → ``"userinitiated"``."""
    return re.sub(r"[^a-z]", "", (word or "").lower())


def judge(status: AvailabilityStatus | None) -> RegionHealth:
    """What Resource Health's answer means for reprotect (see the module docstring)."""
    if status is None:
        return RegionHealth("unknown", None, None, "Resource Health has no status for the original VM.")
    causes = [status.reason_type, status.context, status.category, status.health_event_cause]
    causes.append(status.health_event_category)
    said = [c for c in causes if c]
    words = {fold(c) for c in said}
    reason = ", ".join(dict.fromkeys(said)) or None
    summary = status.summary or status.detailed_status or status.title
    state = fold(status.state)
    if state == "available":
        verdict = "available"
    elif state not in _DOWN:
        verdict = "unknown"
    elif words & _USER:
        verdict = "user_initiated"
    elif words & _UNPLANNED:
        verdict = "outage"
    elif words & _PLANNED:
        verdict = "planned"
    elif words & _PLATFORM:
        verdict = "outage"
    else:
        verdict = "unexplained"
    return RegionHealth(verdict, status.state, reason, summary)  # type: ignore[arg-type]


def inspect(cloud: Cloud, item: ReplicatedItem, *, patient: bool, read_resources: bool = True) -> RegionFindings:
    """Read the target region's resources and Resource Health; raise ``RegionRefused`` when it cannot be used.

    ``patient`` (workers): reads that failed on a passing fault propagate to be retried, unless Resource
    Health already says the region is in an outage. ``read_resources=False`` (the re-check just before
    submitting, moments after the plan's reads answered) asks Resource Health only.
    """
    region = item.primary_fabric_name or item.ref.fabric
    reads: list[RegionRead] = []
    failed: list[CloudError] = []

    def read(what: str, arm_id: str, call: Callable[[str], T | None]) -> T | None:
        try:
            found = call(arm_id)
        except (CloudPermanent, CloudThrottled):
            raise  # a refusal or a throttle says nothing about the region
        except CloudError as exc:
            reads.append(RegionRead(what, arm_id, f"failed: {exc.message}"))
            failed.append(exc)
            return None
        reads.append(RegionRead(what, arm_id, "found" if found is not None else "not found"))
        return found

    group = vm = None
    if item.source_vm_id and read_resources:
        group = read("original resource group", resource_group_id_of(item.source_vm_id), cloud.get_resource)
        vm = read("original VM", item.source_vm_id, cloud.get_vm)
    for disk_id in vm.disk_ids if vm else ():
        reads.append(RegionRead("disk of the original VM", disk_id, "named by the original VM's answer"))
    health = _resource_health(cloud, item)
    fabric_health, fabric_errors = _fabric(cloud, item)
    advisories = _advisories(health, fabric_health, fabric_errors)
    check = TargetRegionCheck(
        location=item.primary_location,
        reads=tuple(reads),
        resource_health=health,
        fabric_health=fabric_health,
        fabric_health_errors=fabric_errors,
        advisories=advisories,
    )
    if health is not None and health.verdict == "outage":
        said = "; ".join(x for x in (health.reason, health.summary) if x)
        raise RegionRefused(
            "target_region_unavailable",
            f"Azure Resource Health reports the original VM in the target region {region} as {health.state} "
            f"({said}). Reprotect needs to create resources there; retry once the region has recovered.",
            check,
        )
    if failed:
        if patient:
            raise failed[0]  # a worker backs off and asks again rather than failing the job on one blip
        tried = "; ".join(f"{r.what} {r.id}: {r.answer}" for r in reads)
        raise RegionRefused(
            "target_region_unreachable",
            f"The target region {region} did not answer reads of the resources reprotect writes to ({tried}). "
            "Retry when it is reachable.",
            check,
        )
    return RegionFindings(check=check, source_vm=vm, resource_group=group)


def _resource_health(cloud: Cloud, item: ReplicatedItem) -> RegionHealth | None:
    """Resource Health's word on the original VM; its failure (or absence) is shown, never blocking."""
    if not item.source_vm_id:
        return None
    try:
        status = cloud.availability(item.source_vm_id)
    except CloudThrottled:
        raise  # the subscription's reads are throttled: every other read would be too
    except CloudError as exc:
        return RegionHealth("unread", None, None, f"Resource Health could not be read: {exc.message}")
    return judge(status)


def _fabric(cloud: Cloud, item: ReplicatedItem) -> tuple[str | None, tuple[str, ...]]:
    """The vault's fabric health for the target region: advisory (shown, never blocking, never waited for)."""
    try:
        fabric = cloud.get_fabric(item.ref.vault, item.ref.fabric)
    except CloudThrottled:
        raise
    except CloudError:
        return None, ()
    if fabric is None:
        return None, ()
    return fabric.health, tuple(e for e in fabric.health_errors if e)


def _advisories(
    health: RegionHealth | None, fabric_health: str | None, fabric_errors: tuple[str, ...]
) -> tuple[str, ...]:
    notes = []
    if health is not None and health.verdict not in ("available", "outage"):
        said = "; ".join(x for x in (health.state, health.reason, health.summary) if x)
        notes.append(f"Resource Health: {health.verdict} ({said}); shown only, reprotect is not refused for it.")
    if fabric_health is None:
        notes.append("The vault's fabric for the target region could not be read; its health is not shown.")
    elif fold(fabric_health) != "normal":
        why = "; ".join(fabric_errors) or "no health errors given"
        notes.append(f"The vault reports the target region's fabric as {fabric_health} ({why}); shown only.")
    return tuple(notes)
