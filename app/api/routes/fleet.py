"""``/vms``: the inventory of the watched vaults (Azure's word joined with our jobs) and its summary."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request, Response
from pydantic import Field
from starlette.concurrency import run_in_threadpool

from app.api.coalesce import shared
from app.api.deps import ContainerDep
from app.api.problems import documented
from app.api.security import Reader
from app.cloud.ids import VAULT_ID_PATTERN
from app.fleet import service
from app.fleet.inventory import VmFilter
from app.fleet.schemas import GroupBy, VmPage, VmSummary
from app.fleet.status import ReprotectStatus

router = APIRouter(tags=["fleet"])
VaultId = Annotated[str, Field(max_length=400, pattern=VAULT_ID_PATTERN)]
# ARM subscription ids are GUIDs.
SubscriptionId = Annotated[
    str, Field(pattern=r"^[0-9A-Fa-f]{8}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{12}$")
]


def _filter(
    vault_id: Annotated[list[VaultId] | None, Query(description="repeatable")] = None,
    subscription_id: Annotated[
        list[SubscriptionId] | None, Query(description="the VM's own subscription (a GUID); repeatable")
    ] = None,
    source_region: Annotated[str | None, Query(max_length=60, description="where the VM runs now")] = None,
    target_region: Annotated[str | None, Query(max_length=60)] = None,
    resource_group: Annotated[str | None, Query(max_length=90)] = None,
    status: ReprotectStatus | None = None,
    name_prefix: Annotated[str | None, Query(min_length=1, max_length=200)] = None,
) -> VmFilter:
    return VmFilter(
        vault_ids=tuple(vault_id) if vault_id else None,
        subscription_ids=tuple(subscription_id) if subscription_id else None,
        source_region=source_region,
        target_region=target_region,
        resource_group=resource_group,
        status=status,
        name_prefix=name_prefix,
    )


FilterDep = Annotated[VmFilter, Depends(_filter)]


@router.get(
    "/vms",
    operation_id="listVms",
    response_model=VmPage,
    responses=documented(401, 403, 422, 429, 502, 503),
)
async def list_vms(
    request: Request,
    container: ContainerDep,
    principal: Reader,
    where: FilterDep,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
    cursor: Annotated[str | None, Query(max_length=2000)] = None,
) -> Response:
    """Replicated VMs of the watched vaults in your scopes with their reprotect status, by vault then name."""
    body = await shared(
        request.app.state,
        "/vms",
        (principal.scopes, where, limit, cursor),
        lambda: run_in_threadpool(
            service.list_vms, container, principal=principal, where=where, limit=limit, cursor=cursor
        ),
    )
    return Response(body, media_type="application/json")  # serialised once (a Response: not validated again)


@router.get(
    "/vms/summary",
    operation_id="summarizeVms",
    response_model=VmSummary,
    responses=documented(401, 403, 422, 429, 502, 503),
)
async def summarize_vms(
    request: Request, container: ContainerDep, principal: Reader, where: FilterDep, group_by: GroupBy = "vault"
) -> Response:
    """Counts by reprotect status per vault, subscription or region (source->target), same filters as /vms."""
    body = await shared(
        request.app.state,
        "/vms/summary",
        (principal.scopes, where, group_by),
        lambda: run_in_threadpool(service.summarize, container, principal=principal, where=where, group_by=group_by),
    )
    return Response(body, media_type="application/json")
