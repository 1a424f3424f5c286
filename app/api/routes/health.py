"""``/healthz`` (the process is up) and ``/readyz`` (database and broker reachable, Azure identity signs in;
workers and scheduler reported, not gating)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from fastapi.responses import JSONResponse
from sqlalchemy import text

from app.api.deps import ContainerDep
from app.db import utcnow
from app.health import status

router = APIRouter(tags=["health"])


@router.get("/healthz", operation_id="healthz")
def healthz() -> dict[str, str]:
    """The process answers."""
    return {"status": "ok"}


@router.get("/readyz", operation_id="readyz", responses={503: {"description": "A dependency is down"}})
def readyz(container: ContainerDep) -> JSONResponse:
    """Whether the job database and the broker are reachable and the Azure identity can get a token."""
    checks = {"database": _database_ok(container), "broker": container.doorbell.reachable()}
    body: dict[str, Any] = {"checks": {k: "ok" if v else "down" for k, v in checks.items()}}
    if container.identity is not None:
        identity = container.identity.status()
        checks["azure_identity"] = identity.ok
        body["checks"]["azure_identity"] = "ok" if identity.ok else "failing"
        body["azure_identity"] = {"status": "ok" if identity.ok else "failing", "detail": identity.detail}
    ready = all(checks.values())
    body = {"status": "ready" if ready else "unavailable", **body}
    # Reported, never gating: readiness failing on every API pod when no worker runs would take the API
    # down with the workers (docs/operations.md); /status tells people what is wrong.
    body["pipeline"] = _pipeline(container) if checks["database"] else None
    headers = {} if ready else {"Retry-After": "5"}
    return JSONResponse(body, status_code=200 if ready else 503, headers=headers)


def _pipeline(container: ContainerDep) -> dict[str, Any] | None:
    try:
        found = status.pipeline(container, now=utcnow())
    except Exception:  # a report, never a reason to fail the probe
        return None
    return {
        "workers_alive": found.workers_alive,
        "scheduler_alive": found.scheduler_alive,
        "oldest_due_job_age_seconds": found.oldest_due_job_age_seconds,
        "jobs_waiting_without_worker": found.jobs_waiting_without_worker,
    }


def _database_ok(container: ContainerDep) -> bool:
    try:
        with container.engine.connect() as connection:
            connection.execute(text("SELECT 1"))
        return True
    except Exception:
        return False
