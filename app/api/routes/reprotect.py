"""``/reprotect``: check and accept a batch of VMs (or only plan them), and read a request back."""

from __future__ import annotations

import json
import uuid
from datetime import timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Header, Query, Request, Response
from fastapi.responses import JSONResponse
from sqlalchemy.orm import Session

from app.api import idempotency
from app.api.deps import CloudDep, ContainerDep
from app.api.problems import documented, render_service_error
from app.api.security import Operator, Reader
from app.auth import visibility
from app.auth.principal import Principal
from app.bootstrap import Container
from app.cloud.types import Cloud
from app.db import transaction, utcnow
from app.errors import ServiceError
from app.job import queries, service
from app.job.present import job_href, request_out
from app.job.schemas import DryRunOut, JobLink, Plan, ReprotectAccepted, ReprotectIn, RequestOut
from app.job.states import JobState
from app.webhooks.service import vet_url

router = APIRouter(tags=["reprotect"])
IDEMPOTENCY_TTL = timedelta(hours=24)
IDEMPOTENCY_LOCK = timedelta(seconds=90)  # longer than the prerequisite checks may take


@router.post(
    "/reprotect",
    operation_id="reprotect",
    status_code=202,
    response_model=ReprotectAccepted | DryRunOut,
    responses={
        200: {"model": DryRunOut, "description": "Dry run: the plan per VM"},
        **documented(400, 401, 403, 409, 413, 422, 429, 503),
    },
)
def reprotect(
    body: ReprotectIn,
    request: Request,
    container: ContainerDep,
    cloud: CloudDep,
    principal: Operator,
    dry_run: Annotated[bool, Query(description="Check and plan only; submit nothing.")] = False,
    idempotency_key: Annotated[
        str | None,
        Header(
            max_length=255,
            json_schema_extra={"pattern": idempotency.KEY_PATTERN},  # check_key refuses others: invalid_idempotency_key
            description="Send the same key again to get the first answer again (24 h) instead of a second request",
        ),
    ] = None,
) -> Response:
    """Reprotect 1-100 failed-over VMs; every prerequisite is checked before anything is accepted."""
    request.state.audit_vms = [vm.label for vm in body.vms]
    # Before any Azure call: the VMs and every resource a customisation names must lie in the caller's scopes.
    visibility.require_in_scope(principal, [rid for vm in body.vms for rid in vm.resource_ids])
    if idempotency_key is None:
        return _reprotect(body, container, cloud, principal, dry_run=dry_run, claim=None)
    claimed = idempotency.begin(
        container.sessions,
        owner=principal.id,
        key=idempotency.check_key(idempotency_key),
        digest=idempotency.fingerprint({"body": body.model_dump(mode="json"), "dry_run": dry_run}),
        now=utcnow(),
        ttl=IDEMPOTENCY_TTL,
        lock=IDEMPOTENCY_LOCK,
    )
    if isinstance(claimed, idempotency.Answer):
        headers = {**claimed.headers, idempotency.REPLAYED_HEADER: "true"}
        return JSONResponse(claimed.body, status_code=claimed.status, headers=headers, media_type=_media(claimed))
    try:
        return _reprotect(body, container, cloud, principal, dry_run=dry_run, claim=claimed)
    except ServiceError as exc:
        answer = render_service_error(exc)
        if answer.status_code < 500:  # a refusal is the answer to this request: replay it
            stored = idempotency.Answer(status=answer.status_code, headers=_kept(answer), body=_json(answer))
            idempotency.store_now(container.sessions, claimed, stored)
        else:
            idempotency.release(container.sessions, claimed)
        raise
    except BaseException:
        idempotency.release(container.sessions, claimed)
        raise


def _reprotect(
    body: ReprotectIn,
    container: Container,
    cloud: Cloud,
    principal: Principal,
    *,
    dry_run: bool,
    claim: idempotency.Claim | None,
) -> JSONResponse:
    settings = container.settings
    if body.callback_url:
        vet_url(body.callback_url, settings.webhook, field="callback_url")
    plans = service.check_all(cloud=cloud, targets=body.vms, concurrency=settings.azure.validation_concurrency)
    if dry_run:
        answer = idempotency.Answer(status=200, headers={}, body=DryRunOut(plans=plans).model_dump(mode="json"))
        if claim:
            idempotency.store_now(container.sessions, claim, answer)
        return JSONResponse(answer.body, status_code=200)
    try:
        with transaction(container.sessions) as session:
            answer = _accept(session, body, plans, container, requested_by=principal.id)
            if claim:
                idempotency.store(session, claim, answer)  # same transaction as the jobs: no 202 without them
    except service.RaceLost as lost:
        with transaction(container.sessions) as session:
            service.explain_race(session, lost)
        raise
    container.doorbell.ring(uuid.UUID(job["id"]) for job in answer.body["jobs"])  # after commit
    return JSONResponse(answer.body, status_code=202, headers=answer.headers)


def _accept(
    session: Session, body: ReprotectIn, plans: list[Plan], container: Container, *, requested_by: str
) -> idempotency.Answer:
    settings = container.settings
    request = service.create_request(
        session,
        targets=body.vms,
        plans=plans,
        settings=settings.job,
        requested_by=requested_by,
        now=utcnow(),
        callback_url=body.callback_url,
    )
    jobs = [
        JobLink(
            id=j.id, vm=j.vm_name, vault_id=j.vault_id, item_id=j.item_id, state=JobState(j.state), href=job_href(j.id)
        )
        for j in request.jobs
    ]
    href = f"/reprotect/{request.id}"
    accepted = ReprotectAccepted(request_id=request.id, href=href, jobs=jobs, callback_secret=request.callback_secret)
    headers = {"Location": href, "Retry-After": str(max(1, round(settings.job.poll_interval_seconds)))}
    return idempotency.Answer(status=202, headers=headers, body=accepted.model_dump(mode="json"))


def _kept(answer: JSONResponse) -> dict[str, str]:
    return {k: v for k, v in answer.headers.items() if k.lower() in ("retry-after", "location")}


def _json(answer: JSONResponse) -> Any:
    return json.loads(bytes(answer.body))


def _media(answer: idempotency.Answer) -> str:
    return "application/problem+json" if answer.status >= 400 else "application/json"


@router.get(
    "/reprotect/{request_id}",
    operation_id="getReprotectRequest",
    response_model=RequestOut,
    responses=documented(401, 403, 404, 422, 429),
)
def get_request(request_id: uuid.UUID, container: ContainerDep, principal: Reader) -> RequestOut:
    """A reprotect request: counts per state and every job."""
    with transaction(container.sessions) as session:
        visibility.check_request(session, request_id, principal)
        return request_out(queries.get_request(session, request_id))
