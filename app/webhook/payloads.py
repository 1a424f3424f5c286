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


class CampaignGateData(BaseModel):
    """The gate after a step."""

    kind: Literal["none", "auto", "manual", "http"]
    state: Literal["pending", "passed", "failed"] | None
    results: list[dict[str, Any]] = Field(description="Each health check: url, expected_status, status, passed")
    decided_by: str | None = Field(description="The operator who approved, or `service` for an automatic gate")
    reason: str | None


class CampaignStepData(BaseModel):
    """The step (a phase, or one failover wave) the event is about."""

    position: int
    phase: JobKind
    wave: int | None
    state: Literal["pending", "running", "done", "failed"]
    counts: dict[str, int] = Field(description="VMs per job state, and `skipped` / `refused`")
    gate: CampaignGateData


class CampaignLinks(BaseModel):
    """Where to read more."""

    campaign: str = Field(description=_LINK)


class CampaignEventData(BaseModel):
    """A campaign as of the move that caused the event."""

    campaign_id: uuid.UUID
    name: str
    state: Literal["running", "paused", "waiting_gate", "stopped", "aborting", "completed", "aborted"]
    stop_reason: str | None
    step: CampaignStepData | None = Field(description="The step concerned; null for completed and aborted")
    created_at: datetime
    finished_at: datetime | None
    links: CampaignLinks


class CampaignStepCompleted(_Event):
    """``reprotect.campaign.step_completed``: every VM of a phase (or failover wave) is done; its gate is next."""

    type: Literal["reprotect.campaign.step_completed"]
    data: CampaignEventData


class CampaignGate(_Event):
    """``reprotect.campaign.gate``: a gate waits for an operator (``pending``), passed, or failed (the campaign
    stops)."""

    type: Literal["reprotect.campaign.gate"]
    data: CampaignEventData


class CampaignCompleted(_Event):
    """``reprotect.campaign.completed``: every VM is home and protected in the original direction again."""

    type: Literal["reprotect.campaign.completed"]
    data: CampaignEventData


class CampaignStopped(_Event):
    """``reprotect.campaign.stopped``: a VM failed or was refused, or a health check failed; ``stop_reason`` says
    which. Retry the VM, then resume."""

    type: Literal["reprotect.campaign.stopped"]
    data: CampaignEventData


class CampaignAborted(_Event):
    """``reprotect.campaign.aborted``: an operator aborted it and the running operations (and a started drill's
    cleanup) have finished."""

    type: Literal["reprotect.campaign.aborted"]
    data: CampaignEventData


EVENT_MODELS: dict[str, type[_Event]] = {
    "reprotect.job.succeeded": JobSucceeded,
    "reprotect.job.failed": JobFailed,
    "reprotect.job.cancelled": JobCancelled,
    "reprotect.job.state_changed": JobStateChanged,
    "reprotect.request.completed": RequestCompleted,
    "reprotect.campaign.step_completed": CampaignStepCompleted,
    "reprotect.campaign.gate": CampaignGate,
    "reprotect.campaign.completed": CampaignCompleted,
    "reprotect.campaign.stopped": CampaignStopped,
    "reprotect.campaign.aborted": CampaignAborted,
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
