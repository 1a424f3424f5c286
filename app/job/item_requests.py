"""Accepting a batch of one item operation: check every VM, then record one job per VM in one transaction.

Shared by the drill and failover use cases: a VM with an active job of ours (any kind) is refused first (409
naming the job), then each item must allow the operation now (422 in Azure's words); nothing is created when
one VM is refused. The doorbell rings after the commit.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from app.auth.principal import Principal
from app.cloud.snapshots import Snapshots, listing
from app.db import transaction, utcnow
from app.job import item_intake, present
from app.job.drill_schemas import DrillVm
from app.job.item_operations import OPERATIONS
from app.job.kinds import JobKind
from app.job.service import Deps, Submitted


def check(deps: Deps, vms: list[DrillVm], kind: JobKind) -> list[item_intake.Checked]:
    """The VMs' items, refused first for an active job of ours (any kind: 409 naming it), then for Azure's
    allowed operations (422 in Azure's words)."""
    found = item_intake.find_all(deps.cloud, vms)
    keys = item_intake.keys_of(found)
    snapshot_age = timedelta(seconds=_oldest_answer(deps) + 1)  # + clock skew between hosts
    with transaction(deps.sessions) as session:
        item_intake.refuse_active(session, keys, found)
        changed = item_intake.recently_changed(session, keys, since=utcnow() - snapshot_age)
    return item_intake.check_allowed(deps.cloud, found, OPERATIONS[kind], changed=frozenset(changed))


def _oldest_answer(deps: Deps) -> float:
    """How old a list snapshot's answer may be (``app.cloud.snapshots``), or the configured TTL."""
    store = getattr(listing(deps.cloud), "snapshots", None)
    if isinstance(store, Snapshots):
        return store.oldest_answer_seconds()
    return deps.settings.azure.snapshot_ttl_seconds


def accept(
    deps: Deps, principal: Principal, kind: JobKind, checked: list[item_intake.Checked], options: dict[str, Any]
) -> Submitted:
    """Record the request and its jobs (202 with ``Location``), or the per-VM 409 of a race lost to another."""
    try:
        with transaction(deps.sessions) as session:
            request = item_intake.create_request(
                session,
                kind=kind,
                vms=checked,
                options=options,
                settings=deps.settings.job,
                requested_by=principal.id,
                now=utcnow(),
            )
            body = present.accepted(request)
            href = present.request_href(request.id)
            job_ids = [job.id for job in request.jobs]
    except item_intake.RaceLost as lost:
        with transaction(deps.sessions) as session:
            item_intake.refuse_active(session, lost.keys, lost.vms)
        raise
    deps.doorbell.ring(job_ids)  # after the commit
    retry_after = str(max(1, round(deps.settings.job.poll_interval_seconds)))
    return Submitted(status=202, headers={"Location": href, "Retry-After": retry_after}, body=body)
