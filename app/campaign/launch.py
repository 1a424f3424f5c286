"""Starting one step of a campaign: check each VM against Azure, then record one job per VM that may go.

Unlike ``POST /drills`` or ``POST /failovers``, one VM's refusal does not refuse the others: each refused VM is
kept on the step with Azure's words (the campaign stops there once the others are done, for an operator to fix
and retry it). The checks read Azure outside any transaction (:func:`prepare`); the jobs are recorded in the
caller's transaction (:func:`record`), so a step starts at most once whatever the number of sweepers.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, TypeVar

from sqlalchemy.orm import Session, sessionmaker

from app.campaign.models import CampaignVm
from app.cloud.ids import parse_item_id
from app.cloud.snapshots import SnapshotCloud, listing
from app.cloud.types import Cloud
from app.errors import CloudTransient, PrerequisitesFailed, VmProblem
from app.job import intake, item_intake, item_requests
from app.job.drill_schemas import DrillVm
from app.job.item_intake import Checked, region_key
from app.job.kinds import REPROTECT_KINDS, JobKind
from app.job.plan import ReprotectPlan
from app.job.schemas import VmTarget
from app.job.service import Deps
from app.queue import Doorbell
from app.settings import Settings

T = TypeVar("T")


@dataclass(frozen=True)
class VmRef:
    """A campaign VM as the step names it: by vault and VM name, which stay true across its item's moves."""

    vm_key: str
    vault_id: str
    vm_name: str

    @property
    def label(self) -> str:
        return f"{self.vault_id}/{self.vm_name}"

    @classmethod
    def of(cls, vm: CampaignVm) -> VmRef:
        return cls(vm_key=vm.vm_key, vault_id=vm.vault_id, vm_name=vm.vm_name)


@dataclass
class Group:
    """VMs that go with one set of options: one request of jobs."""

    kind: JobKind
    options: dict[str, Any]
    checked: list[Checked] = field(default_factory=list)
    targets: list[VmTarget] = field(default_factory=list)  # reprotect kinds: what POST /reprotect would take
    plans: list[ReprotectPlan] = field(default_factory=list)


@dataclass
class Prepared:
    """What a step will start: its groups, the VMs it skips (why) and those Azure or we refused."""

    groups: list[Group] = field(default_factory=list)
    skipped: dict[str, str] = field(default_factory=dict)
    refused: dict[str, dict[str, Any]] = field(default_factory=dict)


def _by_label(vms: list[VmRef]) -> dict[str, VmRef]:
    return {vm.label: vm for vm in vms}


def _refuse(prepared: Prepared, vm: VmRef, problem: VmProblem) -> None:
    prepared.refused[vm.vm_key] = {"code": problem.code, "message": problem.message}


def partition(
    prepared: Prepared, vms: list[VmRef], label_of: Callable[[T], str], check: Callable[[list[T]], Any], items: list[T]
) -> tuple[list[T], Any]:
    """Run ``check`` on ``items``; a VM it refuses is kept as refused and the rest is checked again without it."""
    labels = _by_label(vms)
    remaining = list(items)
    while remaining:
        try:
            return remaining, check(remaining)
        except PrerequisitesFailed as failed:
            named = {problem.vm for problem in failed.problems}
            for problem in failed.problems:
                if problem.vm in labels:
                    _refuse(prepared, labels[problem.vm], problem)
            kept = [entry for entry in remaining if label_of(entry) not in named]
            if len(kept) == len(remaining):
                raise  # a refusal of the whole batch (not per VM): the sweep tries the step again later
            remaining = kept
    return [], None


@dataclass(frozen=True)
class _Afresh:
    """The use cases' dependencies with a cloud that answers only from lists read from now on."""

    settings: Settings
    sessions: sessionmaker[Session]
    cloud: Cloud
    doorbell: Doorbell


def afresh(deps: Deps) -> Deps:
    """``deps`` whose checks read Azure's lists again (once, shared by the step's VMs) rather than a snapshot
    that may predate what the previous step changed: a VM committed a moment ago must not look uncommitted, nor
    one just failed over look protected in reverse (and be skipped)."""
    cloud = listing(deps.cloud)
    if isinstance(cloud, SnapshotCloud):
        return _Afresh(settings=deps.settings, sessions=deps.sessions, cloud=cloud.afresh(), doorbell=deps.doorbell)
    return deps


def prepare(
    deps: Deps, phase: JobKind, vms: list[VmRef], options: dict[str, Any], *, wait_on_passing: bool = True
) -> Prepared:
    """Check the step's VMs against Azure as it is now (no transaction held): who goes, who is skipped, who is
    refused. A refusal that passes on its own holds the whole step back (``CloudTransient``: tried again later)
    unless ``wait_on_passing`` is off (a dry run shows it)."""
    prepared = Prepared()
    deps = afresh(deps)
    refs = [DrillVm(vault_id=vm.vault_id, vm_name=vm.vm_name) for vm in vms]
    _, items = partition(
        prepared, vms, lambda ref: ref.label, lambda batch: item_intake.find_all(deps.cloud, batch), refs
    )
    items = items or []
    if phase is JobKind.DRILL_CLEANUP:  # after an abort, say: only test failovers Azure holds are cleaned up
        items = _with_test_failover(prepared, vms, items)
    if phase in REPROTECT_KINDS:
        _prepare_reprotect(deps, prepared, phase, vms, items)
    else:
        _prepare_item_operation(deps, prepared, phase, vms, items, options)
    if wait_on_passing:
        _unless_passing(prepared)
    return prepared


# Refusals that pass on their own (a blip on a read of the target region, an outage it recovers from, an
# operation Azure is finishing): the step does not start without those VMs; it is tried again later instead.
PASSING_REFUSALS = frozenset({"target_region_unreachable", "target_region_unavailable", "operation_in_progress"})


def _unless_passing(prepared: Prepared) -> None:
    passing = {key: refusal for key, refusal in prepared.refused.items() if refusal["code"] in PASSING_REFUSALS}
    if passing:
        said = "; ".join(f"{refusal['code']}: {refusal['message']}" for refusal in passing.values())
        raise CloudTransient(f"{len(passing)} VM(s) cannot start this step yet ({said})", retry_after=30.0)


def _with_test_failover(prepared: Prepared, vms: list[VmRef], items: list[Checked]) -> list[Checked]:
    """The VMs Azure holds a test failover of (the others are skipped: nothing to clean up)."""
    labels = _by_label(vms)
    kept = []
    for entry in items:
        item = entry.item
        idle = (item.test_failover_state or "none").lower() == "none"
        if idle and "TestFailoverCleanup" not in item.allowed_operations:
            prepared.skipped[labels[entry.label].vm_key] = "no test failover to clean up"
        else:
            kept.append(entry)
    return kept


def _prepare_reprotect(deps: Deps, prepared: Prepared, phase: JobKind, vms: list[VmRef], items: list[Checked]) -> None:
    """Reprotect every VM not yet protected: away from home on the way out (one protected in reverse is
    skipped, one already home has nothing to go home from), home on the way back (done ones skipped)."""
    labels = _by_label(vms)
    going: list[VmTarget] = []
    for entry in items:
        item = entry.item
        if item.protection_state.lower() == "protected":
            if _at_home(entry) and phase is JobKind.REPROTECT:
                prepared.refused[labels[entry.label].vm_key] = {
                    "code": "already_home",
                    "message": "This VM already runs, protected, in the region its replication was first enabled "
                    "from: the campaign has nothing to take home.",
                }
            elif _at_home(entry):
                prepared.skipped[labels[entry.label].vm_key] = "already protected in its original direction"
            else:
                prepared.skipped[labels[entry.label].vm_key] = "already protected in reverse"
            continue
        going.append(VmTarget(vault_id=labels[entry.label].vault_id, vm_name=labels[entry.label].vm_name))
    if not going:
        return
    settings = deps.settings.azure
    targets, plans = partition(
        prepared,
        vms,
        lambda target: target.label,
        lambda batch: intake.check_all(cloud=deps.cloud, targets=batch, concurrency=settings.validation_concurrency),
        going,
    )
    if targets:
        prepared.groups.append(Group(kind=JobKind.REPROTECT, options={}, targets=targets, plans=plans))


def _at_home(entry: Checked) -> bool:
    home = entry.item.initial_primary_location
    return bool(home) and region_key(item_intake.runs_in(entry.item)) == region_key(home or "")


def _prepare_item_operation(
    deps: Deps, prepared: Prepared, phase: JobKind, vms: list[VmRef], items: list[Checked], options: dict[str, Any]
) -> None:
    """Each VM's ``allowedOperations`` permit the phase (else refused in Azure's words); drills grouped by their
    region's test network, failovers only of VMs away from home."""
    labels = _by_label(vms)
    refs = [DrillVm(vault_id=labels[entry.label].vault_id, vm_name=labels[entry.label].vm_name) for entry in items]
    kept, checked = partition(
        prepared, vms, lambda ref: ref.label, lambda batch: item_requests.check(deps, batch, phase), refs
    )
    if not kept:
        return
    if phase is JobKind.FAILOVER:
        kept_checked, _ = partition(
            prepared, vms, lambda c: c.label, lambda batch: item_intake.check_going_home(batch), list(checked)
        )
        checked = kept_checked
        if checked:
            point = options.get("failover_recovery_point", "latest")
            prepared.groups.append(
                Group(phase, {"recovery_point": point, "source_site_operations": "Required"}, checked=checked)
            )
    elif phase is JobKind.DRILL:
        _group_drills(prepared, labels, checked, options)
    elif phase is JobKind.DRILL_CLEANUP:
        prepared.groups.append(Group(phase, {"comments": options.get("drill_comments", "")}, checked=list(checked)))
    else:
        prepared.groups.append(Group(phase, {}, checked=list(checked)))


def _group_drills(
    prepared: Prepared, labels: dict[str, VmRef], checked: list[Checked], options: dict[str, Any]
) -> None:
    networks = {region_key(region): network for region, network in options.get("test_networks", {}).items()}
    point = options.get("drill_recovery_point", "latest")
    by_network: dict[str, Group] = {}
    for entry in checked:
        region = entry.item.recovery_location  # the test VM is created on the replica's side
        network = networks.get(region_key(region))
        if network is None:
            prepared.refused[labels[entry.label].vm_key] = {
                "code": "no_test_network",
                "message": f"The campaign names no test network in {region}, where this VM's test failover runs.",
            }
            continue
        group = by_network.setdefault(
            network, Group(JobKind.DRILL, {"test_network_id": network, "recovery_point": point})
        )
        group.checked.append(entry)
    prepared.groups.extend(by_network.values())


def _key_of_checked(entry: Checked) -> str:
    return intake.vm_key(entry.item.ref.vault.id, entry.item.ref.name)


def _key_of_plan(plan: ReprotectPlan) -> str:
    return intake.vm_key(plan.vault_id, parse_item_id(plan.item_id).name)


def drop(prepared: Prepared, keys: set[str]) -> None:
    """Take the VMs of ``keys`` out of every group (they were refused after the checks)."""
    for group in prepared.groups:
        group.checked = [entry for entry in group.checked if _key_of_checked(entry) not in keys]
        pairs = [(t, p) for t, p in zip(group.targets, group.plans, strict=True) if _key_of_plan(p) not in keys]
        group.targets = [t for t, _ in pairs]
        group.plans = [p for _, p in pairs]
    prepared.groups = [g for g in prepared.groups if g.checked or g.plans]


def record(deps: Deps, session: Any, prepared: Prepared, *, requested_by: str, now: datetime) -> dict[str, uuid.UUID]:
    """Record one request of jobs per group in ``session``; returns each VM's job id (by its key)."""
    jobs: dict[str, uuid.UUID] = {}
    settings = deps.settings.job
    for group in prepared.groups:
        if group.kind in REPROTECT_KINDS:
            request = intake.create_request(
                session, targets=group.targets, plans=group.plans, settings=settings, requested_by=requested_by, now=now
            )
        else:
            request = item_intake.create_request(
                session,
                kind=group.kind,
                vms=group.checked,
                options=group.options,
                settings=settings,
                requested_by=requested_by,
                now=now,
            )
        for job in request.jobs:
            jobs[job.vm_key] = job.id
    return jobs
