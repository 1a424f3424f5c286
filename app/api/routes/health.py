"""``/healthz`` (the process is up) and ``/readyz`` (database and broker reachable)."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import JSONResponse
from sqlalchemy import text

from app.api.deps import ContainerDep

router = APIRouter(tags=["health"])


@router.get("/healthz", operation_id="healthz")
def healthz() -> dict[str, str]:
    """The process answers."""
    return {"status": "ok"}


@router.get("/readyz", operation_id="readyz", responses={503: {"description": "A dependency is down"}})
def readyz(container: ContainerDep) -> JSONResponse:
    """Whether the job database and the broker are reachable."""
    checks = {"database": _database_ok(container), "broker": container.doorbell.reachable()}
    ready = all(checks.values())
    body = {
        "status": "ready" if ready else "unavailable",
        "checks": {k: "ok" if v else "down" for k, v in checks.items()},
    }
    headers = {} if ready else {"Retry-After": "5"}
    return JSONResponse(body, status_code=200 if ready else 503, headers=headers)


def _database_ok(container: ContainerDep) -> bool:
    try:
        with container.engine.connect() as connection:
            connection.execute(text("SELECT 1"))
        return True
    except Exception:
        return False
