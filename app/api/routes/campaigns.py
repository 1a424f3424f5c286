"""``/campaigns``: take a set of VMs the whole way home (reprotect, drill, cleanup, failover in waves, commit,
reprotect back) as one resource, with gates between steps, and pause, resume, abort or retry one VM.

The steps run as jobs of their kinds (``GET /jobs?kind=…``); the scheduler's sweep moves the campaign on. A
dry run shows the plan: steps, VMs, gates, estimates, and what Azure would refuse now.
"""

from __future__ import annotations

import uuid
from typing import Annotated, Literal

from fastapi import APIRouter, Path, Query, Request
from fastapi.responses import JSONResponse

from app.api.deps import ContainerDep
from app.api.problems import documented
from app.api.security import Operator, Reader
from app.campaign import service
from app.campaign.schemas import AbortIn, ApproveIn, CampaignIn, CampaignOut, CampaignPage, CampaignPlanOut, RetryVmIn

router = APIRouter(tags=["campaigns"])
CampaignId = Annotated[uuid.UUID, Path(description="The campaign's id (from the 201 of `POST /campaigns`)")]
CampaignStateName = Literal["running", "paused", "waiting_gate", "stopped", "aborting", "completed", "aborted"]


@router.post(
    "/campaigns",
    operation_id="createCampaign",
    status_code=201,
    response_model=CampaignOut,
    responses={
        200: {
            "model": CampaignPlanOut,
            "description": "Dry run: the plan (steps, VMs, gates, estimates, refusals now); nothing is created",
        },
        **documented(400, 401, 403, 409, 413, 422, 429, 502, 503),
    },
)
def create_campaign(
    body: CampaignIn,
    request: Request,
    container: ContainerDep,
    principal: Operator,
    dry_run: Annotated[bool, Query(description="Plan only; create nothing.")] = False,
) -> JSONResponse:
    """Take 1-500 VMs (listed with their failover wave, or a selector split into waves of `wave_size`) home: each
    step starts when the previous one is done and its gate passed. A VM already in an unfinished campaign is
    refused (409 per VM)."""
    request.state.audit_vms = [vm.label for vm in body.vms]
    created = service.create(container, principal=principal, body=body, dry_run=dry_run)
    return JSONResponse(created.body, status_code=created.status, headers=created.headers)


@router.get(
    "/campaigns",
    operation_id="listCampaigns",
    response_model=CampaignPage,
    responses=documented(400, 401, 403, 422, 429),
)
def list_campaigns(
    container: ContainerDep,
    principal: Reader,
    state: CampaignStateName | None = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    cursor: Annotated[str | None, Query(max_length=200)] = None,
) -> CampaignPage:
    """The campaigns whose every VM lies in the caller's scopes, newest first."""
    return service.list_campaigns(container, principal=principal, state=state, limit=limit, cursor=cursor)


@router.get(
    "/campaigns/{campaign_id}",
    operation_id="getCampaign",
    response_model=CampaignOut,
    responses=documented(400, 401, 403, 404, 422, 429),
)
def get_campaign(campaign_id: CampaignId, container: ContainerDep, principal: Reader) -> CampaignOut:
    """Where the campaign stands: its step (phase and wave), each step's counts and gate, every VM per phase, the
    ETA and why it stopped."""
    return service.get(container, principal=principal, campaign_id=campaign_id)


@router.post(
    "/campaigns/{campaign_id}/approve",
    operation_id="approveCampaignGate",
    response_model=CampaignOut,
    responses=documented(400, 401, 403, 404, 409, 413, 422, 429),
)
def approve(campaign_id: CampaignId, body: ApproveIn, container: ContainerDep, principal: Operator) -> CampaignOut:
    """Pass the manual gate the campaign waits at (audited: who, and the reason given)."""
    return service.approve(container, principal=principal, campaign_id=campaign_id, reason=body.reason)


@router.post(
    "/campaigns/{campaign_id}/pause",
    operation_id="pauseCampaign",
    response_model=CampaignOut,
    responses=documented(400, 401, 403, 404, 409, 422, 429),
)
def pause(campaign_id: CampaignId, container: ContainerDep, principal: Operator) -> CampaignOut:
    """Start no new step; operations already sent to Azure finish (nothing is interrupted)."""
    return service.pause(container, principal=principal, campaign_id=campaign_id)


@router.post(
    "/campaigns/{campaign_id}/resume",
    operation_id="resumeCampaign",
    response_model=CampaignOut,
    responses=documented(400, 401, 403, 404, 409, 422, 429),
)
def resume(campaign_id: CampaignId, container: ContainerDep, principal: Operator) -> CampaignOut:
    """Go on after a pause, or after a stop once its cause is dealt with (the step is judged again)."""
    return service.resume(container, principal=principal, campaign_id=campaign_id)


@router.post(
    "/campaigns/{campaign_id}/abort",
    operation_id="abortCampaign",
    response_model=CampaignOut,
    responses=documented(400, 401, 403, 404, 409, 413, 422, 429),
)
def abort(campaign_id: CampaignId, body: AbortIn, container: ContainerDep, principal: Operator) -> CampaignOut:
    """End the campaign at the next safe point: running operations finish, a started drill is cleaned up, and no
    failover or commit starts any more."""
    return service.abort(container, principal=principal, campaign_id=campaign_id, reason=body.reason)


@router.post(
    "/campaigns/{campaign_id}/retry",
    operation_id="retryCampaignVm",
    response_model=CampaignOut,
    responses=documented(400, 401, 403, 404, 409, 413, 422, 429, 502, 503),
)
def retry_vm(
    campaign_id: CampaignId, body: RetryVmIn, request: Request, container: ContainerDep, principal: Operator
) -> CampaignOut:
    """Run the current step again for one VM that failed or was refused in it; a stopped campaign goes on."""
    request.state.audit_vms = [body.vm_name]
    return service.retry_vm(
        container, principal=principal, campaign_id=campaign_id, vm_name=body.vm_name, vault_id=body.vault_id
    )
