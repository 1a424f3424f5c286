"""The drill use cases: start a test failover of some VMs, and clean up a drill's test failovers.

Each checks every VM against Azure first (nothing is created when one is refused), records one job per VM in
one transaction and rings the doorbell after the commit; the jobs then run like reprotect's (``app.job``).
"""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any

from sqlalchemy import select

from app.auth.principal import Principal
from app.auth.visibility import require_in_scope
from app.cloud.snapshots import listing
from app.db import transaction, utcnow
from app.errors import Conflict
from app.job import drill_intake, present, visibility
from app.job.drill_schemas import DrillCleanupIn, DrillIn, DrillVm
from app.job.drill_steps import LATEST_APP_CONSISTENT, OPERATIONS
from app.job.kinds import JobKind
from app.job.models import Job
from app.job.service import Deps, Submitted


def start(deps: Deps, *, principal: Principal, body: DrillIn) -> Submitted:
    """A test failover of every VM into ``body.test_network_id`` (202), or the refusal of the batch."""
    require_in_scope(principal, [vm.item_id or str(vm.vault_id) for vm in body.vms] + [body.test_network_id])
    drill_intake.check_network(listing(deps.cloud), body.test_network_id)
    checked = _check(deps, body.vms, JobKind.DRILL)
    if body.recovery_point == LATEST_APP_CONSISTENT:
        drill_intake.check_app_consistent(deps.cloud, checked)
    options = {"test_network_id": body.test_network_id, "recovery_point": body.recovery_point}
    return _accept(deps, principal, JobKind.DRILL, checked, options)


def clean_up(deps: Deps, *, principal: Principal, request_id: uuid.UUID, body: DrillCleanupIn) -> Submitted:
    """The cleanup of the test failovers a drill request made (202), one job per VM of that drill."""
    with transaction(deps.sessions) as session:
        visibility.check_request(session, request_id, principal)
        drilled = session.scalars(
            select(Job.item_id).where(Job.request_id == request_id, Job.kind == JobKind.DRILL.value)
        ).all()
    if not drilled:
        raise Conflict(f"Request {request_id} is not a drill.", code="not_a_drill")
    vms = [DrillVm(item_id=item_id) for item_id in drilled]
    checked = _check(deps, vms, JobKind.DRILL_CLEANUP)
    return _accept(deps, principal, JobKind.DRILL_CLEANUP, checked, {"comments": body.comments})


def _check(deps: Deps, vms: list[DrillVm], kind: JobKind) -> list[drill_intake.Checked]:
    """The VMs' items, refused first for an active job of ours (any kind: 409 naming it), then for Azure's
    allowed operations (422 in Azure's words)."""
    found = drill_intake.find_all(deps.cloud, vms)
    keys = drill_intake.keys_of(found)
    snapshot_age = timedelta(seconds=deps.settings.azure.snapshot_ttl_seconds + 1)  # + clock skew between hosts
    with transaction(deps.sessions) as session:
        drill_intake.refuse_active(session, keys, found)
        changed = drill_intake.recently_changed(session, keys, since=utcnow() - snapshot_age)
    return drill_intake.check_allowed(deps.cloud, found, OPERATIONS[kind], changed=frozenset(changed))


def _accept(
    deps: Deps, principal: Principal, kind: JobKind, checked: list[drill_intake.Checked], options: dict[str, Any]
) -> Submitted:
    try:
        with transaction(deps.sessions) as session:
            request = drill_intake.create_request(
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
    except drill_intake.RaceLost as lost:
        with transaction(deps.sessions) as session:
            drill_intake.refuse_active(session, lost.keys, lost.vms)
        raise
    deps.doorbell.ring(job_ids)  # after the commit
    retry_after = str(max(1, round(deps.settings.job.poll_interval_seconds)))
    return Submitted(status=202, headers={"Location": href, "Retry-After": retry_after}, body=body)
