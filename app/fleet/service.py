"""The fleet's read use cases: the inventory page by page, and its summary."""

from __future__ import annotations

from collections import Counter, defaultdict

from app.auth.principal import Principal
from app.fleet.inventory import VmFilter, decode_cursor, encode_cursor, order_key, read_fleet
from app.fleet.schemas import GroupBy, SummaryGroup, VmOut, VmPage, VmSummary
from app.fleet.status import ReprotectStatus
from app.job.service import Deps


def list_vms(deps: Deps, *, principal: Principal, where: VmFilter, limit: int, cursor: str | None) -> VmPage:
    """The VMs of the watched vaults in the caller's scopes, by vault then name, one page at a time."""
    fleet = read_fleet(deps, principal=principal, where=where)
    vms = fleet.vms
    if cursor:
        after = decode_cursor(cursor)
        vms = [vm for vm in vms if order_key(vm) > after]
    shown = vms[:limit]
    next_cursor = encode_cursor(shown[-1]) if len(vms) > limit else None
    return VmPage(
        items=shown,
        next_cursor=next_cursor,
        partial=fleet.partial,
        unreadable=fleet.unreadable,
        read_at=fleet.read_at,
        vault_count=fleet.vault_count,
    )


def summarize(deps: Deps, *, principal: Principal, where: VmFilter, group_by: GroupBy) -> VmSummary:
    """Counts by reprotect status of the matching VMs, per vault, subscription or region."""
    fleet = read_fleet(deps, principal=principal, where=where)
    grouped: dict[str, Counter[str]] = defaultdict(Counter)
    for vm in fleet.vms:
        grouped[_group_key(vm, group_by)][vm.reprotect_status.value] += 1
    totals: Counter[str] = Counter(vm.reprotect_status.value for vm in fleet.vms)
    return VmSummary(
        group_by=group_by,
        vault_count=fleet.vault_count,
        total=len(fleet.vms),
        counts=_all_statuses(totals),
        groups=[
            SummaryGroup(key=key, total=sum(counts.values()), counts=_all_statuses(counts))
            for key, counts in sorted(grouped.items())
        ],
        partial=fleet.partial,
        unreadable=fleet.unreadable,
    )


def _group_key(vm: VmOut, group_by: GroupBy) -> str:
    if group_by == "vault":
        return vm.vault_id
    if group_by == "subscription":
        return vm.subscription_id
    return f"{vm.source_region}->{vm.target_region}"


def _all_statuses(counts: Counter[str]) -> dict[str, int]:
    return {status.value: counts.get(status.value, 0) for status in ReprotectStatus}
