"""``/reprotect``: check and accept a batch of VMs (or only plan them), and read a request back."""

from __future__ import annotations

import json
import uuid
from typing import Annotated

from fastapi import APIRouter, Header, Query, Request, Response
from fastapi.responses import JSONResponse

from app.api.deps import ContainerDep
from app.api.problems import PROBLEM_JSON, documented, render_service_error
from app.api.security import Operator, Reader
from app.errors import ServiceError
from app.fleet import selectors
from app.fleet.schemas import SelectorOut
from app.idempotency.service import KEY_PATTERN, REPLAYED_HEADER, Answer
from app.job import service
from app.job.schemas import DryRunOut, ReprotectAccepted, ReprotectIn, RequestOut

router = APIRouter(tags=["reprotect"])


@router.post(
    "/reprotect",
    operation_id="reprotect",
    status_code=202,
    response_model=ReprotectAccepted | DryRunOut | SelectorOut,
    responses={
        200: {
            "model": DryRunOut | SelectorOut,
            "description": "Dry run: the plan per VM (a selector's: the resolved set); a selector matching nothing",
        },
        **documented(
            400,
            401,
            403,
            409,
            413,
            422,
            429,
            502,
            503,
            answers={
                503: "Azure is throttling or down, the database is not reachable, or this replica cannot open the "
                "callback secret an idempotent replay's answer holds (secret_unavailable: it lacks the key, during a "
                "rolling key change): retry after Retry-After seconds"
            },
        ),
    },
)
def reprotect(
    body: ReprotectIn,
    request: Request,
    container: ContainerDep,
    principal: Operator,
    dry_run: Annotated[bool, Query(description="Check and plan only; submit nothing.")] = False,
    idempotency_key: Annotated[
        str | None,
        Header(
            max_length=255,
            json_schema_extra={"pattern": KEY_PATTERN},  # check_key refuses others: invalid_idempotency_key
            description="Send the same key again to get the first answer again (24 h) instead of a second request",
        ),
    ] = None,
) -> Response:
    """Reprotect 1-100 failed-over VMs, or every VM a selector names (in requests of 100); every prerequisite is
    checked before anything is accepted."""
    if body.selector is not None:
        return _by_selector(body, request, container, principal, dry_run=dry_run, idempotency_key=idempotency_key)
    request.state.audit_vms = [vm.label for vm in body.vms]
    submitted = service.submit(
        container,
        principal=principal,
        body=body,
        dry_run=dry_run,
        idempotency_key=idempotency_key,
        render_refusal=replayable,
    )
    headers = {**submitted.headers, **({REPLAYED_HEADER: "true"} if submitted.replayed else {})}
    media = PROBLEM_JSON if submitted.status >= 400 else "application/json"
    return JSONResponse(submitted.body, status_code=submitted.status, headers=headers, media_type=media)


def _by_selector(
    body: ReprotectIn,
    request: Request,
    container: ContainerDep,
    principal: Operator,
    *,
    dry_run: bool,
    idempotency_key: str | None,
) -> Response:
    assert body.selector is not None
    submitted = selectors.submit_selector(
        container,
        principal=principal,
        selector=body.selector,
        callback_url=body.callback_url,
        dry_run=dry_run,
        idempotency_key=idempotency_key,
    )
    request.state.audit_vms = [vm["item_id"] for vm in submitted.body.get("vms", [])]
    headers = {REPLAYED_HEADER: "true"} if submitted.replayed else {}
    return JSONResponse(submitted.body, status_code=submitted.status, headers=headers)


def replayable(exc: ServiceError) -> Answer | None:
    """A refusal as this edge renders it, to replay for the same key; None for 5xx (the key is released)."""
    answer = render_service_error(exc)
    if answer.status_code >= 500:
        return None
    kept = {k: v for k, v in answer.headers.items() if k.lower() in ("retry-after", "location")}
    return Answer(status=answer.status_code, headers=kept, body=json.loads(bytes(answer.body)))


@router.get(
    "/reprotect/{request_id}",
    operation_id="getReprotectRequest",
    response_model=RequestOut,
    responses=documented(401, 403, 404, 422, 429),
)
def get_request(request_id: uuid.UUID, container: ContainerDep, principal: Reader) -> RequestOut:
    """A reprotect request: counts per state and every job."""
    return service.get_request(container, principal=principal, request_id=request_id)
