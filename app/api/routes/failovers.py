"""``/failovers``: an unplanned failover of some protected VMs (their source shut down first), and its commit.

Each VM gets a job of kind ``failover`` (or ``commit``) that runs through the reprotect job's machinery;
follow it with ``GET /jobs/{id}`` or the request with ``GET /reprotect/{request_id}``. The job states are
reprotect's: ``reprotecting`` while the ASR job runs, ``syncing`` while the item settles, ``protected`` once
done (the VM runs on the other side pending commit, or the failover is committed).
"""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Path, Request
from fastapi.responses import JSONResponse

from app.api.deps import ContainerDep
from app.api.problems import documented
from app.api.security import Operator
from app.job import failover_service
from app.job.drill_schemas import FailoverIn
from app.job.schemas import ReprotectAccepted

router = APIRouter(tags=["failovers"])


@router.post(
    "/failovers",
    operation_id="startFailover",
    status_code=202,
    response_model=ReprotectAccepted,
    responses=documented(400, 401, 403, 409, 413, 422, 429, 502, 503),
)
def start_failover(body: FailoverIn, request: Request, container: ContainerDep, principal: Operator) -> JSONResponse:
    """Unplanned failover of 1-100 protected VMs home (to the region replication was first enabled from), at the
    chosen recovery point, with the source VMs shut down first; a VM whose ``allowedOperations`` lack
    UnplannedFailover, or that already runs at home, refuses the whole batch (nothing is started)."""
    request.state.audit_vms = [vm.label for vm in body.vms]
    submitted = failover_service.start(container, principal=principal, body=body)
    return JSONResponse(submitted.body, status_code=submitted.status, headers=submitted.headers)


@router.post(
    "/failovers/{request_id}/commit",
    operation_id="commitFailover",
    status_code=202,
    response_model=ReprotectAccepted,
    responses=documented(400, 401, 403, 404, 409, 413, 422, 429, 502, 503),
)
def commit_failover(
    request_id: Annotated[uuid.UUID, Path(description="The failover request's id (from the 202 of `POST /failovers`)")],
    request: Request,
    container: ContainerDep,
    principal: Operator,
) -> JSONResponse:
    """Commit the failovers of a failover request (their recovery points are removed); then reprotect them
    with `POST /reprotect` to protect them in the original direction again."""
    request.state.audit_vms = []
    submitted = failover_service.commit(container, principal=principal, request_id=request_id)
    request.state.audit_vms = [job["item_id"] for job in submitted.body["jobs"]]  # committed: irreversible
    return JSONResponse(submitted.body, status_code=submitted.status, headers=submitted.headers)
