"""``GET /status``: the whole pipeline for people and the console (workers and scheduler alive, jobs waiting
for a worker), where ``/readyz`` answers only for the API's own dependencies."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from fastapi import APIRouter
from pydantic import BaseModel, Field

from app.api.deps import ContainerDep
from app.api.problems import documented
from app.api.security import Reader
from app.db import utcnow
from app.errors import Forbidden
from app.health import status

router = APIRouter(tags=["health"])


class IdentityOut(BaseModel):
    """Whether the Azure identity can get a token."""

    status: Literal["ok", "failing"]
    detail: str


class PipelineOut(BaseModel):
    """Who is alive to move jobs (by heartbeat), and what waits for them."""

    workers_alive: int = Field(description="Worker processes whose heartbeat is fresh.")
    scheduler_alive: bool = Field(description="Whether a scheduler (the sweeper's clock) has a fresh heartbeat.")
    worker_last_seen: datetime | None
    scheduler_last_seen: datetime | None
    jobs_accepted: int = Field(description="Jobs no worker has looked at yet.")
    jobs_waiting: int = Field(description="Active jobs due now that no worker holds.")
    oldest_due_job_age_seconds: float | None = Field(description="How long the longest-waiting due job has waited.")
    jobs_waiting_without_worker: int = Field(
        description="Jobs waiting while no worker is alive: nothing moves them until one starts."
    )
    workers_on_another_database: int | None = Field(
        default=None,
        description="Workers answering on this API's broker whose heartbeat is not in its database (they take its "
        "jobs' messages and find none); null when the broker cannot be asked (the embedded SQLite broker).",
    )
    workers_on_another_broker: int = Field(
        default=0,
        description="Workers alive on another broker than this API's (a misconfiguration): they take none of its jobs.",
    )


class StatusOut(BaseModel):
    """The service and its pipeline: ``ok``, ``degraded`` (jobs will not move: no worker or scheduler, or the
    Azure identity fails) or ``down`` (database or broker unreachable)."""

    status: Literal["ok", "degraded", "down"]
    checks: dict[str, str] = Field(
        description="database, broker, azure_identity: ok | down | failing; workers: ok | none; scheduler: ok | down."
    )
    azure_identity: IdentityOut | None = None
    pipeline: PipelineOut | None = Field(description="None while the database is unreachable.")
    problems: list[str] = Field(description="What is wrong, in words, for the person on call.")


@router.get(
    "/status", operation_id="getStatus", response_model=StatusOut, responses=documented(401, 403, 422, 429, 503)
)
def get_status(container: ContainerDep, principal: Reader) -> StatusOut:
    """The whole pipeline's health: database, broker, Azure identity, workers and scheduler alive, and the jobs
    waiting (with none alive to move them). Always 200: the body says what is wrong. Fleet-wide (job counts,
    the identity's error): for keys of unrestricted scope, as ``/metrics``."""
    if not principal.scopes.is_unrestricted:
        raise Forbidden("The status is fleet-wide: it needs a key of unrestricted scope.", code="outside_scope")
    return StatusOut.model_validate(status.report(container, now=utcnow()))
