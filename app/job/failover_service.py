"""The failover use cases: fail some protected VMs over (their source shut down first), and commit a failover
request's failovers.

Each checks every VM against Azure first (nothing is created when one is refused), records one job per VM in
one transaction and rings the doorbell after the commit (``app.job.item_requests``); the jobs then run like
reprotect's (``app.job``). The direction is the item's: away from where it is active now.
"""

from __future__ import annotations

import uuid

from app.auth.principal import Principal
from app.auth.visibility import require_in_scope
from app.errors import Conflict
from app.job import item_intake, item_requests
from app.job.drill_schemas import FailoverIn
from app.job.drill_service import jobs_of_request
from app.job.item_operations import LATEST_APP_CONSISTENT
from app.job.kinds import JobKind
from app.job.service import Deps, Submitted


def start(deps: Deps, *, principal: Principal, body: FailoverIn) -> Submitted:
    """An unplanned failover of every VM with ``sourceSiteOperations: Required`` (202), or the batch's refusal."""
    require_in_scope(principal, [vm.item_id or str(vm.vault_id) for vm in body.vms])
    checked = item_requests.check(deps, body.vms, JobKind.FAILOVER)
    item_intake.check_going_home(checked)
    if body.recovery_point == LATEST_APP_CONSISTENT:
        item_intake.check_app_consistent(deps.cloud, checked)
    options = {"recovery_point": body.recovery_point, "source_site_operations": "Required"}
    return item_requests.accept(deps, principal, JobKind.FAILOVER, checked, options)


def commit(deps: Deps, *, principal: Principal, request_id: uuid.UUID) -> Submitted:
    """The commit of the failovers a failover request made (202), one job per VM whose failover is done: a VM
    whose failover failed or still runs is left out (retry it, then commit again), never blocking the others."""
    if not jobs_of_request(deps, principal=principal, request_id=request_id, kind=JobKind.FAILOVER):
        raise Conflict(f"Request {request_id} is not a failover.", code="not_a_failover")
    vms = jobs_of_request(deps, principal=principal, request_id=request_id, kind=JobKind.FAILOVER, done_only=True)
    if not vms:
        raise Conflict(f"No failover of request {request_id} is done yet: nothing to commit.", code="no_failover_done")
    checked = item_requests.check(deps, vms, JobKind.COMMIT)
    return item_requests.accept(deps, principal, JobKind.COMMIT, checked, {})
