"""The inventory as the caller may see it: the watched vaults in its scopes, their items joined with our
latest job per VM, each with its reprotect status, filtered and in a stable order (vault, VM name)."""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Callable, Hashable
from dataclasses import dataclass
from datetime import datetime
from typing import TypeVar

from app.auth.principal import Principal
from app.cloud.ids import parse_vault_id, same_id
from app.errors import CloudPermanent, CloudTransient, InvalidRequest
from app.fleet.decided import DecidedFleet, FleetVm, decided_fleet, order_key
from app.fleet.schemas import UnreadableOut
from app.fleet.snapshot import Unreadable, inventory_for
from app.fleet.status import ReprotectStatus
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


T = TypeVar("T")


@dataclass(frozen=True)
class Fleet:
    """The VMs matching a filter, in order, and what could not be read."""

    vms: list[FleetVm]
    unreadable: list[UnreadableOut]
    read_at: datetime | None
    vault_count: int  # vaults read (watched or named, in the caller's scopes)
    decided: DecidedFleet
    where: VmFilter

    @property
    def partial(self) -> bool:
        """Whether some vault (or subscription searched for vaults) is missing."""
        return bool(self.unreadable)

    def derived(self, key: Hashable, compute: Callable[[], T]) -> T:
        """``compute()`` over these VMs, once per ``key`` while the same decided fleet is kept."""
        return self.decided.derived((self.where, key), compute)


def read_fleet(deps: Deps, *, principal: Principal, where: VmFilter, fresh: bool = False) -> Fleet:
    """Every VM of the watched vaults inside the caller's scopes that matches ``where``; ``fresh`` when a
    decision rides on it (a selector submitting): our jobs read now, not the briefly kept decided fleet."""
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
    decided = decided_fleet(
        deps,
        readable,
        ttl_seconds=0.0 if fresh else fleet_settings.view_ttl_seconds,
        max_age_seconds=fleet_settings.view_max_age_seconds,
    )
    shown = decided.derived(("matching", where), lambda: [vm for vm in decided.vms if _matches(vm, where)])
    return Fleet(
        vms=shown,
        unreadable=unreadable,
        read_at=decided.read_at,  # the lists the kept fleet was decided from, maybe older than those in hand
        vault_count=len(vaults),
        decided=decided,
        where=where,
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


def encode_cursor(vm: FleetVm) -> str:
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


def _region(name: str | None) -> str:
    return (name or "").replace(" ", "").lower()


def _matches(vm: FleetVm, where: VmFilter) -> bool:
    item, place, status = vm.item, vm.placement, vm.reprotect_status
    checks = (
        where.subscription_ids is None or any(same_id(place.subscription_id, s) for s in where.subscription_ids),
        where.source_region is None or _region(place.source_region) == _region(where.source_region),
        where.target_region is None or _region(place.target_region) == _region(where.target_region),
        where.resource_group is None or (place.resource_group or "").lower() == where.resource_group.lower(),
        where.status is None or status == where.status,
        where.name_prefix is None or item.vm_name.lower().startswith(where.name_prefix.lower()),
    )
    return all(checks)
