"""``/events/jobs``: a server-sent-events stream of job changes, filtered like ``GET /jobs`` and scoped."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Depends, Header, Query, Request
from fastapi.responses import StreamingResponse
from fastapi.security import HTTPAuthorizationCredentials

from app.api.deps import ContainerDep, IsoDateTime
from app.api.problems import documented
from app.api.security import Reader, bearer
from app.events import service
from app.events.filter import EventFilter
from app.events.hub import Hub
from app.job.states import JobState

router = APIRouter(tags=["events"])

_STREAM_DOC = """Each job transition as an event: `id` is the transition's id, `event: job`, `data` the job's
compact state after it (`job_id`, `request_id`, `vm_name`, `kind`, `vault_id`, `state`, `from_state`, `attempt`,
`at`, `resync_percent`, `eta_at`, `error_code`). Comment lines (`: heartbeat`) every few seconds when idle.
An `event: resume` (no id) ends the stream when the client fell too far behind, the server stops, the
stream reached its lifetime or the caller's credential no longer holds: reconnect with `Last-Event-ID`
and the missed events are replayed."""


@router.get(
    "/events/jobs",
    operation_id="streamJobEvents",
    response_class=StreamingResponse,
    responses={
        200: {"description": _STREAM_DOC, "content": {"text/event-stream": {"schema": {"type": "string"}}}},
        **documented(401, 403, 422, 429, 503),
    },
)
async def stream_job_events(
    request: Request,
    container: ContainerDep,
    principal: Reader,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)],
    state: JobState | None = None,
    vault_id: Annotated[str | None, Query(max_length=400)] = None,
    vm: Annotated[str | None, Query(max_length=800, description="VM name or item id")] = None,
    request_id: uuid.UUID | None = None,
    subscription_id: Annotated[str | None, Query(max_length=64, description="The vault's subscription")] = None,
    error_code: Annotated[str | None, Query(max_length=100, description="failed jobs with this error code")] = None,
    created_after: Annotated[IsoDateTime | None, Query(description="jobs created at or after")] = None,
    created_before: Annotated[IsoDateTime | None, Query(description="jobs created before")] = None,
    last_event_id: Annotated[
        int | None, Query(ge=0, description="Resume after this event, for clients that cannot set Last-Event-ID")
    ] = None,
    last_event_id_header: Annotated[
        str | None, Header(alias="Last-Event-ID", max_length=40, description="Resume after this event (wins)")
    ] = None,
) -> StreamingResponse:
    """Follow job changes in the caller's scopes as server-sent events; resumable by event id. At most
    `max_streams_per_principal` open streams per caller (429 `too_many_streams`) and `max_streams_per_process`
    per API process (503 `streams_exhausted`), both with Retry-After."""
    hub: Hub = request.app.state.event_hub
    where = EventFilter(
        state=state,
        vault_id=vault_id,
        vm=vm,
        request_id=request_id,
        subscription_id=subscription_id,
        error_code=error_code,
        created_after=created_after,
        created_before=created_before,
    )
    if hub.revocation_epoch is None and container.auth.revocations is not None:
        hub.revocation_epoch = container.auth.revocations.epoch  # revocations heard over Redis recheck every stream
    after = service.resume_point(last_event_id_header, last_event_id)
    still_allowed = service.credential_check(
        container.auth, credentials.credentials if credentials else None, principal
    )
    frames = await service.open_stream(
        hub, container.sessions, principal=principal, where=where, after=after, still_allowed=still_allowed
    )
    headers = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}
    return StreamingResponse(frames, media_type="text/event-stream", headers=headers)
