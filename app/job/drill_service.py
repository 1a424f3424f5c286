"""The drill use cases: start a test failover of some VMs, and clean up a drill's test failovers.

Each checks every VM against Azure first (nothing is created when one is refused), records one job per VM in
one transaction and rings the doorbell after the commit (``app.job.item_requests``); the jobs then run like
reprotect's (``app.job``).
"""

from __future__ import annotations

import uuid

from sqlalchemy import select

from app.auth.principal import Principal
from app.auth.visibility import require_in_scope
from app.cloud.snapshots import listing
from app.db import transaction
from app.errors import Conflict
from app.job import item_intake, item_requests, visibility
from app.job.drill_schemas import DrillCleanupIn, DrillIn, DrillVm
from app.job.item_operations import LATEST_APP_CONSISTENT
from app.job.kinds import JobKind
from app.job.models import Job
from app.job.service import Deps, Submitted
from app.job.states import JobState


def start(deps: Deps, *, principal: Principal, body: DrillIn) -> Submitted:
    """A test failover of every VM into ``body.test_network_id`` (202), or the refusal of the batch."""
    require_in_scope(principal, [vm.item_id or str(vm.vault_id) for vm in body.vms] + [body.test_network_id])
    item_intake.check_network(listing(deps.cloud), body.test_network_id)
    checked = item_requests.check(deps, body.vms, JobKind.DRILL)
    if body.recovery_point == LATEST_APP_CONSISTENT:
        item_intake.check_app_consistent(deps.cloud, checked)
    options = {"test_network_id": body.test_network_id, "recovery_point": body.recovery_point}
    return item_requests.accept(deps, principal, JobKind.DRILL, checked, options)


def clean_up(deps: Deps, *, principal: Principal, request_id: uuid.UUID, body: DrillCleanupIn) -> Submitted:
    """The cleanup of the test failovers a drill request made (202), one job per VM of that drill."""
    vms = jobs_of_request(deps, principal=principal, request_id=request_id, kind=JobKind.DRILL)
    if not vms:
        raise Conflict(f"Request {request_id} is not a drill.", code="not_a_drill")
    checked = item_requests.check(deps, vms, JobKind.DRILL_CLEANUP)
    return item_requests.accept(deps, principal, JobKind.DRILL_CLEANUP, checked, {"comments": body.comments})


def jobs_of_request(
    deps: Deps, *, principal: Principal, request_id: uuid.UUID, kind: JobKind, done_only: bool = False
) -> list[DrillVm]:
    """The VMs of a request the caller may see that have a job of ``kind`` in it (by their item ids); with
    ``done_only``, only those whose job is done (``protected``)."""
    with transaction(deps.sessions) as session:
        visibility.check_request(session, request_id, principal)
        query = select(Job.item_id).where(Job.request_id == request_id, Job.kind == kind.value)
        if done_only:
            query = query.where(Job.state == JobState.PROTECTED.value)
        item_ids = session.scalars(query).all()
    return [DrillVm(item_id=item_id) for item_id in item_ids]
