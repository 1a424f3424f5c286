"""Accepting item operations (drills, cleanups, failovers, commits): check each VM's ``allowedOperations``,
record one job per VM.

The same request and job rows as reprotect (``app.job.intake``), with the job's ``kind``; the partial unique
index on ``vm_key`` keeps one active job per VM whatever its kind, so a VM being reprotected is refused a
drill or a failover (409 per VM) and the other way round.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from app.cloud.ids import parse_item_id, parse_vault_id
from app.cloud.snapshots import listing
from app.cloud.types import Cloud, ReplicatedItem
from app.errors import CloudForbidden, CloudPermanent, Conflict, InvalidRequest, PrerequisitesFailed, VmProblem
from app.job import intake
from app.job.drill_schemas import DrillVm
from app.job.intake import vm_key
from app.job.item_operations import ItemOperation, not_allowed
from app.job.kinds import JobKind
from app.job.models import Job, ReprotectRequest
from app.settings import JobSettings

# Rough durations for the ETA (docs: a test failover took 3 min 23 s, a commit 3 s; a cleanup takes a minute
# or two; the lab's failover steps, with the source shut down first, a few minutes).
ESTIMATED_SECONDS = {
    JobKind.DRILL: 210.0,
    JobKind.DRILL_CLEANUP: 120.0,
    JobKind.FAILOVER: 360.0,
    JobKind.COMMIT: 30.0,
}


@dataclass(frozen=True)
class Checked:
    """A VM that may run the operation: how it was named and its item as Site Recovery showed it."""

    label: str
    item: ReplicatedItem


def find_item(cloud: Cloud, vm: DrillVm) -> ReplicatedItem | None:
    """The replicated item a caller named, by id or by vault and VM name."""
    if vm.item_id:
        return cloud.get_item(parse_item_id(vm.item_id))
    return cloud.find_item(parse_vault_id(str(vm.vault_id)), str(vm.vm_name))


def check_network(cloud: Cloud, network_id: str) -> None:
    """The isolated test network exists (``InvalidRequest`` otherwise: no VM could use it)."""
    if cloud.get_resource(network_id) is None:
        raise InvalidRequest(f"The test network {network_id} does not exist.", code="test_network_not_found")


def find_all(cloud: Cloud, vms: list[DrillVm]) -> list[Checked]:
    """Every VM's replicated item (from the shared list snapshots); else ``PrerequisitesFailed`` per VM."""
    lists = listing(cloud)
    found: list[Checked] = []
    problems: list[VmProblem] = []
    for vm in vms:
        try:
            item = find_item(lists, vm)
        except CloudForbidden as exc:
            problems.append(VmProblem(vm=vm.label, code=exc.code, message=exc.message, asr_error=exc.details))
            continue
        except CloudPermanent as exc:
            problems.append(VmProblem(vm=vm.label, code="azure_refused", message=exc.message, asr_error=exc.details))
            continue
        if item is None:
            problems.append(VmProblem(vm=vm.label, code="vm_not_found", message="No replicated item matches this VM."))
        elif any(f.item.ref.id.lower() == item.ref.id.lower() for f in found):
            problems.append(VmProblem(vm=vm.label, code="duplicate_vm", message="This VM is named twice."))
        else:
            found.append(Checked(label=vm.label, item=item))
    if problems:
        raise PrerequisitesFailed(problems)
    return found


def recently_changed(session: Session, keys: list[str], *, since: datetime) -> set[str]:
    """The VMs (of ``keys``) on which a job of ours changed state at or after ``since``: their items' allowed
    operations have moved since a list snapshot of that age was read."""
    changed = session.scalars(select(Job.vm_key).where(Job.vm_key.in_(keys), Job.updated_at >= since)).all()
    return set(changed)


def check_allowed(
    cloud: Cloud, found: list[Checked], op: ItemOperation, *, changed: frozenset[str] = frozenset()
) -> list[Checked]:
    """Every item allows ``op`` now; else ``PrerequisitesFailed`` naming each VM that does not (in Azure's words).

    The snapshot may be a moment old. A refusal is confirmed by reading the item itself, and so is every item
    of a VM in ``changed`` (a job of ours moved it since the snapshot may have been read: a cleanup just
    finished still looks allowed in a list read before it); the others are judged from the snapshot, and the
    worker's submit meets Azure's own refusal if one changed behind our back.
    """
    checked: list[Checked] = []
    problems: list[VmProblem] = []
    for entry in found:
        item = entry.item
        key = vm_key(item.ref.vault.id, item.ref.name)
        if key in changed or not_allowed(op, item) is not None:
            item = cloud.get_item(item.ref) or item
        refused = not_allowed(op, item)
        if refused is not None:
            problems.append(VmProblem(vm=entry.label, code=refused[0], message=refused[1]))
        else:
            checked.append(Checked(label=entry.label, item=item))
    if problems:
        raise PrerequisitesFailed(problems)
    return checked


def region_key(name: str) -> str:
    """A region's name compared the way Azure spells it either way ("East Asia", "eastasia")."""
    return name.replace(" ", "").lower()


def runs_in(item: ReplicatedItem) -> str:
    """The region the VM runs in now: the item's primary or recovery location, as ``activeLocation`` says."""
    return item.recovery_location if item.active_location.lower() == "recovery" else item.primary_location


def check_going_home(checked: list[Checked]) -> None:
    """Each VM runs away from home, so a failover takes it home; else ``PrerequisitesFailed`` per VM.

    Home is the region replication was first enabled from (A2A ``initialPrimaryFabricLocation``). A VM already
    running there would be failed over *away* from it, its production source shut down: that is a disaster
    failover, not this way home, and is refused. When Azure does not say where home is, the VM is let through.
    """
    problems = [
        VmProblem(
            vm=c.label,
            code="already_home",
            message=(
                f"This VM already runs in {runs_in(c.item)}, the region its replication was first enabled from; "
                "a failover would take it away from home and shut its source down."
            ),
        )
        for c in checked
        if c.item.initial_primary_location
        and region_key(runs_in(c.item)) == region_key(c.item.initial_primary_location)
    ]
    if problems:
        raise PrerequisitesFailed(problems)


def keys_of(vms: list[Checked]) -> list[str]:
    """Each VM's identity across its item's move (``app.job.intake.vm_key``)."""
    return [vm_key(c.item.ref.vault.id, c.item.ref.name) for c in vms]


def check_app_consistent(cloud: Cloud, checked: list[Checked]) -> None:
    """Each VM has an app-consistent recovery point to drill or fail over at; else ``PrerequisitesFailed`` per VM."""
    problems = [
        VmProblem(
            vm=c.label,
            code="no_app_consistent_point",
            message="Site Recovery lists no app-consistent recovery point for this VM; use the latest point.",
        )
        for c in checked
        if not any(p.type.lower() == "appconsistent" for p in cloud.list_recovery_points(c.item.ref))
    ]
    if problems:
        raise PrerequisitesFailed(problems)


def create_request(
    session: Session,
    *,
    kind: JobKind,
    vms: list[Checked],
    options: dict[str, Any],
    settings: JobSettings,
    requested_by: str | None,
    now: datetime,
) -> ReprotectRequest:
    """Record the request and one job of ``kind`` per VM; 409 per VM that already has an active job."""
    keys = keys_of(vms)
    refuse_active(session, keys, vms)
    request = ReprotectRequest(id=uuid.uuid4(), created_at=now, vm_count=len(vms), requested_by=requested_by)
    session.add(request)
    for checked, key in zip(vms, keys, strict=True):
        item = checked.item
        intake.add_job(
            session,
            request,
            intake.NewJob(
                kind=kind,
                vm_key=key,
                vm_name=item.vm_name,
                item_id=item.ref.id,
                vault_id=item.ref.vault.id,
                customization=options,
                plan={"operation": kind.value, "estimated_seconds": ESTIMATED_SECONDS[kind]},
            ),
            settings=settings,
            requested_by=requested_by,
            now=now,
            reason=f"{kind.value} requested",
        )
    try:
        session.flush()
    except IntegrityError as exc:  # a concurrent request won the race for one of these VMs
        raise RaceLost(keys, vms) from exc
    return request


class RaceLost(Conflict):
    """A concurrent request was accepted for one of these VMs between our check and our insert."""

    code = "vm_has_active_job"

    def __init__(self, keys: list[str], vms: list[Checked]):
        super().__init__("Another request for one of these VMs was accepted at the same moment.")
        self.keys = keys
        self.vms = vms


def refuse_active(session: Session, keys: list[str], vms: list[Checked]) -> None:
    """``PrerequisitesFailed`` (a conflict) naming each VM's active job, of whatever kind."""
    intake.refuse_active(
        session,
        keys,
        [checked.label for checked in vms],
        lambda job: f"Job {job.id} ({job.kind}, {job.state}) is already running on this VM; follow it or cancel it.",
    )
