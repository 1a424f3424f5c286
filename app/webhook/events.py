"""Event types and their payloads: ``{type, timestamp, data}``, enough for a portal to update itself."""

from __future__ import annotations

from collections import Counter
from datetime import datetime
from enum import StrEnum
from typing import Any

from app.job.models import Job, ReprotectRequest
from app.job.present import job_href, request_href
from app.job.states import JobState


class EventType(StrEnum):
    """What a receiver can subscribe to."""

    JOB_SUCCEEDED = "reprotect.job.succeeded"
    JOB_FAILED = "reprotect.job.failed"
    JOB_CANCELLED = "reprotect.job.cancelled"
    REQUEST_COMPLETED = "reprotect.request.completed"
    JOB_STATE_CHANGED = "reprotect.job.state_changed"
    CAMPAIGN_STEP_COMPLETED = "reprotect.campaign.step_completed"
    CAMPAIGN_GATE = "reprotect.campaign.gate"
    CAMPAIGN_COMPLETED = "reprotect.campaign.completed"
    CAMPAIGN_STOPPED = "reprotect.campaign.stopped"
    CAMPAIGN_ABORTED = "reprotect.campaign.aborted"


# Registered endpoints and request callbacks get these unless they ask otherwise (state changes are opt-in).
DEFAULT_EVENT_TYPES: tuple[EventType, ...] = (
    EventType.JOB_SUCCEEDED,
    EventType.JOB_FAILED,
    EventType.JOB_CANCELLED,
    EventType.REQUEST_COMPLETED,
    EventType.CAMPAIGN_STEP_COMPLETED,
    EventType.CAMPAIGN_GATE,
    EventType.CAMPAIGN_COMPLETED,
    EventType.CAMPAIGN_STOPPED,
    EventType.CAMPAIGN_ABORTED,
)
TERMINAL_EVENT: dict[JobState, EventType] = {
    JobState.PROTECTED: EventType.JOB_SUCCEEDED,
    JobState.FAILED: EventType.JOB_FAILED,
    JobState.CANCELLED: EventType.JOB_CANCELLED,
}


def _iso(at: datetime | None) -> str | None:
    return at.isoformat().replace("+00:00", "Z") if at else None


def envelope(event_type: EventType, *, at: datetime, data: dict[str, Any]) -> dict[str, Any]:
    """The Standard Webhooks payload shape."""
    return {"type": event_type.value, "timestamp": _iso(at), "data": data}


def job_data(job: Job, *, previous_state: JobState | None) -> dict[str, Any]:
    """What a job event says about the job."""
    duration = (job.finished_at - job.created_at).total_seconds() if job.finished_at else None
    error = None
    if job.error_code:
        error = {"code": job.error_code, "message": job.error_message, "failed_in": job.failed_in}
    return {
        "job_id": str(job.id),
        "request_id": str(job.request_id),
        "vm": job.vm_name,
        "kind": job.kind,
        "vault_id": job.vault_id,
        "item_id": job.item_id,
        "new_item_id": job.new_item_id,
        "state": job.state,
        "previous_state": previous_state.value if previous_state else None,
        "attempt": job.attempt,
        "asr_job_id": job.asr_job_id,
        "error": error,
        "created_at": _iso(job.created_at),
        "submitted_at": _iso(job.submitted_at),
        "finished_at": _iso(job.finished_at),
        "duration_seconds": duration,
        "links": {"job": job_href(job.id), "request": request_href(job.request_id)},
    }


def request_data(request: ReprotectRequest, jobs: list[Job], *, at: datetime) -> dict[str, Any]:
    """What ``reprotect.request.completed`` says: outcome counts and every job's final state."""
    counts = Counter(job.state for job in jobs)
    return {
        "request_id": str(request.id),
        "vm_count": len(jobs),
        "counts": {state.value: counts.get(state.value, 0) for state in TERMINAL_EVENT},
        "created_at": _iso(request.created_at),
        "completed_at": _iso(at),
        "duration_seconds": (at - request.created_at).total_seconds(),
        "jobs": [
            {"job_id": str(j.id), "vm": j.vm_name, "state": j.state, "error_code": j.error_code, "href": job_href(j.id)}
            for j in jobs
        ],
        "links": {"request": request_href(request.id)},
    }
