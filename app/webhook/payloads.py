"""The documented shape of each webhook event's body (``app.webhook.events`` builds them as plain dicts).

They describe the payloads for the OpenAPI 3.1 ``webhooks`` section; a test builds real payloads and
validates them against these models, so the two cannot drift apart. Links (``links``, ``href``) are
absolute URLs once ``api.public_base_url`` is set, else paths relative to the API.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from app.job.kinds import JobKind
from app.job.states import JobState

_TERMINAL = Literal["protected", "failed", "cancelled"]
_LINK = "The API's URL of it: absolute once `public_base_url` is configured, else a path"


class JobEventError(BaseModel):
    """Why the job failed."""

    code: str = Field(description="Our code or ASR's own (see the API's `x-error-codes`)")
    message: str | None
    failed_in: JobState | None = Field(description="The state the job failed in")


class JobLinks(BaseModel):
    """Where to read more."""

    job: str = Field(description=_LINK)
    request: str = Field(description=_LINK)


class JobEventData(BaseModel):
    """What a job event says about the job, as of the transition that caused it."""

    job_id: uuid.UUID
    request_id: uuid.UUID
    vm: str
    kind: JobKind = Field(description="What the job does: reprotect, drill, drill_cleanup, failover, commit, ...")
    vault_id: str
    item_id: str
    new_item_id: str | None = Field(description="The protected item in the reverse direction, once ASR created it")
    state: JobState
    previous_state: JobState | None
    attempt: int
    asr_job_id: str | None
    error: JobEventError | None
    created_at: datetime
    submitted_at: datetime | None
    finished_at: datetime | None
    duration_seconds: float | None = Field(description="From creation to finish; null while the job runs")
    links: JobLinks


class RequestJob(BaseModel):
    """One job's final state in a completed request."""

    job_id: uuid.UUID
    vm: str
    state: JobState
    error_code: str | None
    href: str = Field(description=_LINK)


class RequestLinks(BaseModel):
    """Where to read more."""

    request: str = Field(description=_LINK)


class RequestEventData(BaseModel):
    """A reprotect request whose every job has finished."""

    request_id: uuid.UUID
    vm_count: int
    counts: dict[_TERMINAL, int] = Field(description="Jobs per final state")
    created_at: datetime
    completed_at: datetime
    duration_seconds: float
    jobs: list[RequestJob]
    links: RequestLinks


class _Event(BaseModel):
    model_config = ConfigDict(extra="forbid")

    timestamp: datetime = Field(description="When the event happened (UTC)")


class JobSucceeded(_Event):
    """``reprotect.job.succeeded``: the VM is protected again, replicating back to its original region."""

    type: Literal["reprotect.job.succeeded"]
    data: JobEventData


class JobFailed(_Event):
    """``reprotect.job.failed``: the job failed; ``data.error`` says why (retry with ``POST /jobs/{id}/retry``)."""

    type: Literal["reprotect.job.failed"]
    data: JobEventData


class JobCancelled(_Event):
    """``reprotect.job.cancelled``: the job was cancelled before Azure started reprotecting."""

    type: Literal["reprotect.job.cancelled"]
    data: JobEventData


class JobStateChanged(_Event):
    """``reprotect.job.state_changed`` (opt-in): every transition of a job."""

    type: Literal["reprotect.job.state_changed"]
    data: JobEventData


class RequestCompleted(_Event):
    """``reprotect.request.completed``: every job of a request has finished; counts and final states."""

    type: Literal["reprotect.request.completed"]
    data: RequestEventData


EVENT_MODELS: dict[str, type[_Event]] = {
    "reprotect.job.succeeded": JobSucceeded,
    "reprotect.job.failed": JobFailed,
    "reprotect.job.cancelled": JobCancelled,
    "reprotect.job.state_changed": JobStateChanged,
    "reprotect.request.completed": RequestCompleted,
}


def absolute_links(payload: dict[str, Any], base_url: str | None) -> dict[str, Any]:
    """``payload`` with its link paths (``links.*``, ``href``) prefixed by ``base_url`` (unchanged without one)."""
    if not base_url:
        return payload
    base = base_url.rstrip("/")

    def walk(value: Any, *, is_link: bool = False) -> Any:
        if isinstance(value, dict):
            return {k: walk(v, is_link=k in ("href", "links") or (is_link and k != "links")) for k, v in value.items()}
        if isinstance(value, list):
            return [walk(v) for v in value]
        if is_link and isinstance(value, str) and value.startswith("/"):
            return base + value
        return value

    based: dict[str, Any] = walk(payload)
    return based
