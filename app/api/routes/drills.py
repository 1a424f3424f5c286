"""``/drills``: a test failover of some protected VMs into an isolated network, and its cleanup.

Each VM gets a job of kind ``drill`` (or ``drill_cleanup``) that runs through the reprotect job's machinery;
follow it with ``GET /jobs/{id}`` or the request with ``GET /reprotect/{request_id}``. The job states are
reprotect's: ``reprotecting`` while the ASR job runs, ``syncing`` while the item settles, ``protected`` once
done (the test VM is up, or removed again).
"""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Path, Request
from fastapi.responses import JSONResponse

from app.api.deps import ContainerDep
from app.api.problems import documented
from app.api.security import Operator
from app.job import drill_service
from app.job.drill_schemas import DrillCleanupIn, DrillIn
from app.job.schemas import ReprotectAccepted

router = APIRouter(tags=["drills"])


@router.post(
    "/drills",
    operation_id="startDrill",
    status_code=202,
    response_model=ReprotectAccepted,
    responses=documented(400, 401, 403, 409, 413, 422, 429, 502, 503),
)
def start_drill(body: DrillIn, request: Request, container: ContainerDep, principal: Operator) -> JSONResponse:
    """Test failover of 1-100 protected VMs into an isolated test network, at the chosen recovery point; a VM
    whose ``allowedOperations`` lack TestFailover refuses the whole batch (nothing is started)."""
    request.state.audit_vms = [vm.label for vm in body.vms]
    submitted = drill_service.start(container, principal=principal, body=body)
    return JSONResponse(submitted.body, status_code=submitted.status, headers=submitted.headers)


@router.post(
    "/drills/{request_id}/cleanup",
    operation_id="cleanUpDrill",
    status_code=202,
    response_model=ReprotectAccepted,
    responses=documented(400, 401, 403, 404, 409, 413, 422, 429, 502, 503),
)
def clean_up_drill(
    request_id: Annotated[uuid.UUID, Path(description="The drill request's id (from the 202 of `POST /drills`)")],
    body: DrillCleanupIn,
    request: Request,
    container: ContainerDep,
    principal: Operator,
) -> JSONResponse:
    """Clean up the test failovers of a drill request (the test VMs are deleted), with the operator's notes."""
    request.state.audit_vms = []
    submitted = drill_service.clean_up(container, principal=principal, request_id=request_id, body=body)
    request.state.audit_vms = [job["item_id"] for job in submitted.body["jobs"]]
    return JSONResponse(submitted.body, status_code=submitted.status, headers=submitted.headers)
