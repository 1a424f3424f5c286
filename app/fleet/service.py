"""The fleet's read use cases: the inventory page by page, and its summary."""

from __future__ import annotations

import bisect
from collections import Counter, defaultdict
from collections.abc import Iterable
from datetime import datetime

from app.auth.principal import Principal
from app.fleet.decided import FleetVm, order_key
from app.fleet.inventory import VmFilter, decode_cursor, encode_cursor, read_fleet
from app.fleet.schemas import CodeCount, GroupBy, SummaryGroup, VmPage, VmSummary
from app.fleet.status import ReprotectStatus
from app.job.present import to_json
from app.job.service import Deps


def list_vms(deps: Deps, *, principal: Principal, where: VmFilter, limit: int, cursor: str | None) -> bytes:
    """The VMs of the watched vaults in the caller's scopes, by vault then name, one page at a time, as
    ``VmPage`` JSON: each VM is rendered once per decided fleet (:attr:`FleetVm.document`), a page only joins
    them, and the answer is serialised once (not validated again on the way out)."""
    fleet = read_fleet(deps, principal=principal, where=where)
    vms = fleet.vms
    if cursor:  # the VMs are in order: the page starts right after the cursor's position
        vms = vms[bisect.bisect_right(vms, decode_cursor(cursor), key=order_key) :]
    shown = vms[:limit]
    next_cursor = encode_cursor(shown[-1]) if len(vms) > limit else None
    page = VmPage(
        items=[],
        next_cursor=next_cursor,
        partial=fleet.partial,
        unreadable=fleet.unreadable,
        read_at=fleet.read_at,
        vault_count=fleet.vault_count,
    ).model_dump(mode="json")
    page["items"] = [vm.document for vm in shown]
    return to_json(page)


def summarize(deps: Deps, *, principal: Principal, where: VmFilter, group_by: GroupBy) -> bytes:
    """Counts by reprotect status of the matching VMs, per vault, subscription or region, with the ETA of the
    reprotects in progress and the most frequent failure and not-eligible codes, as ``VmSummary`` JSON."""
    fleet = read_fleet(deps, principal=principal, where=where)
    tally = fleet.derived(("summary", group_by), lambda: _tally(fleet.vms, group_by))
    answer = tally.model_copy(
        update={"vault_count": fleet.vault_count, "partial": fleet.partial, "unreadable": fleet.unreadable}
    )
    return answer.model_dump_json().encode()


def _tally(vms: list[FleetVm], group_by: GroupBy) -> VmSummary:
    grouped: dict[str, list[FleetVm]] = defaultdict(list)
    for vm in vms:
        grouped[_group_key(vm, group_by)].append(vm)
    failed = Counter(vm.job.error_code for vm in vms if _failed(vm) and vm.job and vm.job.error_code)
    not_eligible = Counter(
        vm.reason_code for vm in vms if vm.reprotect_status is ReprotectStatus.NOT_ELIGIBLE and vm.reason_code
    )
    return VmSummary(
        group_by=group_by,
        vault_count=0,
        total=len(vms),
        counts=_all_statuses(vms),
        eta=_eta(vms),
        top_failure_codes=_top(failed),
        top_not_eligible_reasons=_top(not_eligible),
        groups=[
            SummaryGroup(key=key, total=len(members), counts=_all_statuses(members), eta=_eta(members))
            for key, members in sorted(grouped.items())
        ],
        partial=False,
        unreadable=[],
    )


def _group_key(vm: FleetVm, group_by: GroupBy) -> str:
    if group_by == "vault":
        return vm.vault_id
    if group_by == "subscription":
        return vm.subscription_id
    return f"{vm.source_region}->{vm.target_region}"


def _all_statuses(vms: Iterable[FleetVm]) -> dict[str, int]:
    counts = Counter(vm.reprotect_status.value for vm in vms)
    return {status.value: counts.get(status.value, 0) for status in ReprotectStatus}


def _failed(vm: FleetVm) -> bool:
    return vm.reprotect_status is ReprotectStatus.FAILED


def _eta(vms: Iterable[FleetVm]) -> datetime | None:
    """The latest ETA among the VMs whose reprotect is in progress (None when none has one)."""
    etas = [vm.job.eta for vm in vms if vm.reprotect_status is ReprotectStatus.IN_PROGRESS and vm.job and vm.job.eta]
    return max(etas, default=None)


def _top(codes: Counter[str], limit: int = 10) -> list[CodeCount]:
    return [CodeCount(code=code, count=count) for code, count in codes.most_common(limit)]
