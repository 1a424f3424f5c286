"""The inventory as the caller may see it: the watched vaults in its scopes, their items joined with our
latest job per VM, each with its reprotect status, filtered and in a stable order (vault, VM name)."""

from __future__ import annotations

import base64
import binascii
import json
from dataclasses import dataclass, replace
from datetime import datetime

from app.auth.principal import Principal
from app.cloud.ids import parse_resource_id, parse_vault_id, same_id
from app.cloud.types import Cloud, ReplicatedItem
from app.db import transaction
from app.errors import CloudError, CloudPermanent, CloudTransient, InvalidRequest
from app.fleet.jobs import LatestJob, latest_by_vm
from app.fleet.schemas import UnreadableOut, VmJobOut, VmOut
from app.fleet.snapshot import Unreadable, inventory_for
from app.fleet.status import ReprotectStatus, Verdict, decide, source_vm_refusal
from app.job.intake import vm_key
from app.job.present import job_href
from app.job.service import Deps


@dataclass(frozen=True)
class VmFilter:
    """What ``GET /vms``, its summary and a selector filter on (None: any)."""

    vault_ids: tuple[str, ...] | None = None
    subscription_ids: tuple[str, ...] | None = None
    source_region: str | None = None
    target_region: str | None = None
    resource_group: str | None = None
    status: ReprotectStatus | None = None
    name_prefix: str | None = None


@dataclass(frozen=True)
class Fleet:
    """The VMs matching a filter, in order, and what could not be read."""

    vms: list[VmOut]
    unreadable: list[UnreadableOut]
    read_at: datetime | None
    vault_count: int  # vaults read (watched or named, in the caller's scopes)

    @property
    def partial(self) -> bool:
        """Whether some vault (or subscription searched for vaults) is missing."""
        return bool(self.unreadable)


def read_fleet(deps: Deps, *, principal: Principal, where: VmFilter) -> Fleet:
    """Every VM of the watched vaults inside the caller's scopes that matches ``where``."""
    fleet_settings = deps.settings.fleet
    inventory = inventory_for(deps.cloud, fleet_settings, workers=deps.settings.azure.validation_concurrency)
    watched, problems = inventory.watched()
    vaults = [v for v in watched if principal.scopes.covers(v)]
    if where.vault_ids is not None:
        # Named vaults are read even when not watched (one paged list each), within the caller's scopes only.
        named = {parse_vault_id(v).key: parse_vault_id(v).id for v in where.vault_ids}
        vaults = [v for key, v in sorted(named.items()) if principal.scopes.covers(v)]
    # A subscription filter names the VMs' own subscription: a central vault elsewhere may hold them, so
    # every vault in scope is read.
    snapshots = inventory.snapshots(vaults)
    unreadable = [
        _out(p)
        for p in problems
        if p.subscription_id and principal.scopes.covers(f"/subscriptions/{p.subscription_id}")
    ]
    # A vault whose last read failed is flagged even while an earlier copy of its items is shown.
    unreadable += [_out(s.error) for s in snapshots if s.error is not None]
    readable = [s for s in snapshots if s.items is not None]
    if vaults and not readable:
        _refuse_unreadable([s.error for s in snapshots if s.error is not None])
    items = [item for s in readable for item in s.items or ()]
    keys = [vm_key(i.ref.vault.id, i.ref.name) for i in items]
    with transaction(deps.sessions) as session:
        jobs = latest_by_vm(session, keys)
    keyed = [(i, jobs.get(key)) for i, key in zip(items, keys, strict=True)]
    verdicts = {i.ref.id: _verdict(i, job) for i, job in keyed}
    anywhere = replace(where, status=None)
    candidates = [(i, job) for i, job in keyed if _matches(_vm_out(i, job, verdicts[i.ref.id]), anywhere)]
    _check_source_vms(deps.cloud, [i for i, _ in candidates], verdicts)
    shown = [vm for vm in (_vm_out(i, job, verdicts[i.ref.id]) for i, job in candidates) if _matches(vm, where)]
    shown.sort(key=order_key)
    read_times = [s.read_at for s in readable if s.read_at is not None]
    return Fleet(
        vms=shown, unreadable=unreadable, read_at=min(read_times) if read_times else None, vault_count=len(vaults)
    )


def _refuse_unreadable(errors: list[Unreadable]) -> None:
    """None of the vaults could be read: a problem naming each, unless every one is simply not there (404,
    answered as an empty page that names them)."""
    if not errors or all(e.status == 404 for e in errors):
        return
    named = "; ".join(f"{e.vault_id}: {e.code}: {e.message}" for e in errors)
    message = f"Azure could not list the replicated items of any of the {len(errors)} vault(s) asked for: {named}"
    details = {"unreadable": [{"vault_id": e.vault_id, "code": e.code, "message": e.message} for e in errors]}
    if any(e.passing for e in errors):
        raise CloudTransient(message, status=503)
    raise CloudPermanent(message, code=errors[0].code, details=details)


def order_key(vm: VmOut) -> tuple[str, str, str]:
    """The inventory's stable order: vault, then VM name, then item id."""
    return (vm.vault_id.lower(), vm.vm_name.lower(), vm.item_id.lower())


def encode_cursor(vm: VmOut) -> str:
    """An opaque cursor after ``vm``."""
    return base64.urlsafe_b64encode(json.dumps(list(order_key(vm))).encode()).decode().rstrip("=")


def decode_cursor(cursor: str) -> tuple[str, str, str]:
    """The position a cursor of :func:`encode_cursor` names."""
    try:
        raw = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
        if not (isinstance(raw, list) and len(raw) == 3 and all(isinstance(p, str) for p in raw)):
            raise ValueError("shape")
        return (raw[0], raw[1], raw[2])
    except (ValueError, binascii.Error, UnicodeDecodeError) as exc:
        raise InvalidRequest("The cursor is not one this service gave out.", code="invalid_cursor") from exc


def _out(problem: Unreadable) -> UnreadableOut:
    return UnreadableOut(
        vault_id=problem.vault_id, subscription_id=problem.subscription_id, code=problem.code, message=problem.message
    )


def _verdict(item: ReplicatedItem, job: LatestJob | None) -> Verdict:
    return decide(item, job_state=job.state if job else None, job_error_code=job.error_code if job else None)


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


def _vm_out(item: ReplicatedItem, job: LatestJob | None, verdict: Verdict) -> VmOut:
    failed_over = item.active_location.lower() == "recovery"
    running_vm = (item.running_vm_id if failed_over else item.source_vm_id) or item.source_vm_id or item.running_vm_id
    vault = item.ref.vault
    return VmOut(
        vm_name=item.vm_name,
        item_id=item.ref.id,
        vault_id=vault.id,
        vault_subscription_id=vault.subscription_id,
        subscription_id=parse_resource_id(running_vm).subscription_id if running_vm else vault.subscription_id,
        resource_group=parse_resource_id(running_vm).resource_group if running_vm else None,
        source_region=item.recovery_location if failed_over else item.primary_location,
        target_region=item.primary_location if failed_over else item.recovery_location,
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


def _region(name: str | None) -> str:
    return (name or "").replace(" ", "").lower()


def _matches(vm: VmOut, where: VmFilter) -> bool:
    checks = (
        where.subscription_ids is None or any(same_id(vm.subscription_id, s) for s in where.subscription_ids),
        where.source_region is None or _region(vm.source_region) == _region(where.source_region),
        where.target_region is None or _region(vm.target_region) == _region(where.target_region),
        where.resource_group is None or (vm.resource_group or "").lower() == where.resource_group.lower(),
        where.status is None or vm.reprotect_status == where.status,
        where.name_prefix is None or vm.vm_name.lower().startswith(where.name_prefix.lower()),
    )
    return all(checks)
