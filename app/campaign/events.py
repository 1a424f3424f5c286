"""A campaign's webhook events: a step (phase or wave) completed, a gate waiting, passed or failed, the
campaign completed, stopped or aborted.

They go through the webhook outbox (``app.webhook.outbox``) in the transaction of the move that causes them, to
the endpoints that subscribe to the type and whose scopes cover every vault of the campaign (never to a request's
callback). Each event is recorded against the campaign (``campaign_id``; no request).
"""

from __future__ import annotations

from collections import Counter
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from app.campaign.models import Campaign, CampaignStep
from app.job.models import Job
from app.webhook import outbox
from app.webhook.events import EventType


def campaign_href(campaign_id: object) -> str:
    """The campaign's path in the API."""
    return f"/campaigns/{campaign_id}"


def _iso(at: datetime | None) -> str | None:
    return at.isoformat().replace("+00:00", "Z") if at else None


def step_counts(step: CampaignStep, jobs: dict[str, Job]) -> dict[str, int]:
    """How many of the step's VMs are in each job state, skipped or refused."""
    counts = Counter(jobs[job_id].state for job_id in step.jobs.values() if job_id in jobs)
    counts.update({"skipped": len(step.skipped), "refused": len(step.refused)})
    return dict(counts)


def _step_data(step: CampaignStep, jobs: dict[str, Job]) -> dict[str, Any]:
    return {
        "position": step.position,
        "phase": step.phase,
        "wave": step.wave,
        "state": step.state,
        "counts": step_counts(step, jobs),
        "gate": {
            "kind": step.gate,
            "state": step.gate_state,
            "results": step.gate_results,
            "decided_by": step.gate_decided_by,
            "reason": step.gate_reason,
        },
    }


def emit(
    session: Session,
    campaign: Campaign,
    event_type: EventType,
    *,
    step: CampaignStep | None,
    jobs: dict[str, Job],
    now: datetime,
) -> None:
    """Record ``event_type`` about ``campaign`` (and ``step``) and its deliveries, in ``session``."""
    data = {
        "campaign_id": str(campaign.id),
        "name": campaign.name,
        "state": campaign.state,
        "stop_reason": campaign.stop_reason,
        "step": _step_data(step, jobs) if step is not None else None,
        "created_at": _iso(campaign.created_at),
        "finished_at": _iso(campaign.finished_at),
        "links": {"campaign": campaign_href(campaign.id)},
    }
    outbox.emit(
        session, event_type, data, request_id=None, campaign_id=campaign.id, vault_ids=list(campaign.vault_ids), now=now
    )
