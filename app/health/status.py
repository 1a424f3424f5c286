"""The pipeline's state as ``/status`` and ``/readyz`` report it: the API's own dependencies (database,
broker, Azure identity) and the rest of the pipeline (workers and scheduler alive by their heartbeats, jobs
waiting for a worker and for how long)."""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

from sqlalchemy import Engine, and_, func, or_, select, text

from app.cloud.identity import IdentityCheck
from app.health.heartbeat import broker_fingerprint
from app.health.models import ProcessHeartbeat
from app.job.models import Job
from app.job.states import ACTIVE_STATES, JobState
from app.queue import Doorbell
from app.settings import Settings

_ACTIVE = [s.value for s in ACTIVE_STATES]


_NODE = re.compile(r"^reprotect-(?P<pid>\d+)-[0-9a-f]+@(?P<host>.+)$")


class Deps(Protocol):
    """What the report reads; the container built by ``app.bootstrap`` provides it."""

    @property
    def settings(self) -> Settings: ...

    @property
    def engine(self) -> Engine: ...

    @property
    def doorbell(self) -> Doorbell: ...

    @property
    def identity(self) -> IdentityCheck | None: ...


@dataclass(frozen=True)
class Pipeline:
    """Who is alive to move jobs, and what waits for them."""

    workers_alive: int
    scheduler_alive: bool
    worker_last_seen: datetime | None
    scheduler_last_seen: datetime | None
    jobs_accepted: int  # jobs no worker has looked at yet
    jobs_waiting: int  # due now and held by no worker
    oldest_due_job_age_seconds: float | None
    # The jobs waiting while no worker is alive: nothing will move them until one starts.
    jobs_waiting_without_worker: int
    # Workers alive on another broker than this process's: they take none of its work (a misconfiguration).
    workers_on_another_broker: int = 0
    # Workers answering on this broker without a heartbeat in this database: they take its jobs' messages but
    # read another database (REPROTECT_DATABASE__URL differs), so they find none of them. None: not asked
    # (a broker that cannot broadcast, such as the embedded SQLite one).
    workers_on_another_database: int | None = None


def database_ok(deps: Deps) -> bool:
    """Whether the job database answers."""
    try:
        with deps.engine.connect() as connection:
            connection.execute(text("SELECT 1"))
        return True
    except Exception:
        return False


def pipeline(deps: Deps, *, now: datetime, worker_nodes: list[str] | None = None) -> Pipeline:
    """Read heartbeats and due jobs (a few index lookups); ``worker_nodes``: the Celery nodes answering on
    our broker, to find those beating into another database."""
    fresh = now - timedelta(seconds=deps.settings.health.stale_after_seconds)
    ours = broker_fingerprint(deps.settings.broker.url)
    # A worker of an older release writes no fingerprint: counted as ours.
    on_our_broker = or_(ProcessHeartbeat.broker.is_(None), ProcessHeartbeat.broker == ours)
    waiting = and_(
        Job.state.in_(_ACTIVE),
        or_(Job.next_due_at.is_(None), Job.next_due_at <= now),
        or_(Job.lease_until.is_(None), Job.lease_until < now),
    )
    with deps.engine.connect() as connection:
        beats = {
            row.kind: row
            for row in connection.execute(
                select(
                    ProcessHeartbeat.kind,
                    func.count().filter(and_(ProcessHeartbeat.seen_at >= fresh, on_our_broker)).label("alive"),
                    func.count().filter(and_(ProcessHeartbeat.seen_at >= fresh, ~on_our_broker)).label("elsewhere"),
                    func.max(ProcessHeartbeat.seen_at).label("last_seen"),
                ).group_by(ProcessHeartbeat.kind)
            )
        }
        beating = {
            (row.host.lower(), row.pid)
            for row in connection.execute(
                select(ProcessHeartbeat.host, ProcessHeartbeat.pid).where(
                    ProcessHeartbeat.kind == "worker", ProcessHeartbeat.seen_at >= fresh
                )
            )
        }
        accepted = connection.execute(select(func.count()).where(Job.state == JobState.ACCEPTED.value)).scalar_one()
        due = connection.execute(select(func.count(), func.min(Job.next_due_at)).where(waiting)).one()
    workers = beats.get("worker")
    scheduler = beats.get("scheduler")
    alive = int(workers.alive) if workers else 0
    oldest = _as_utc(due[1])
    return Pipeline(
        workers_alive=alive,
        scheduler_alive=bool(scheduler and scheduler.alive),
        worker_last_seen=_as_utc(workers.last_seen) if workers else None,
        scheduler_last_seen=_as_utc(scheduler.last_seen) if scheduler else None,
        jobs_accepted=int(accepted),
        jobs_waiting=int(due[0]),
        oldest_due_job_age_seconds=round(max(0.0, (now - oldest).total_seconds()), 1) if oldest else None,
        jobs_waiting_without_worker=int(due[0]) if alive == 0 else 0,
        workers_on_another_broker=int(workers.elsewhere) if workers else 0,
        workers_on_another_database=None if worker_nodes is None else len(_strays(worker_nodes, beating)),
    )


def _strays(nodes: list[str], beating: set[tuple[str, int]]) -> list[str]:
    """Our worker nodes (``reprotect-<pid>-<hex>@<host>``, ``cli.main.worker_node_name``) with no fresh
    heartbeat of the same host and process in this database."""
    found = []
    for node in nodes:
        match = _NODE.match(node)
        if match and (match["host"].lower(), int(match["pid"])) not in beating:
            found.append(node)
    return found


def report(deps: Deps, *, now: datetime) -> dict[str, Any]:
    """Everything ``GET /status`` shows: each check, the pipeline, and the problems in words."""
    checks: dict[str, str] = {
        "database": "ok" if database_ok(deps) else "down",
        "broker": "ok" if deps.doorbell.reachable() else "down",
    }
    body: dict[str, Any] = {"checks": checks}
    problems: list[str] = []
    if deps.identity is not None:
        identity = deps.identity.status()
        checks["azure_identity"] = "ok" if identity.ok else "failing"
        body["azure_identity"] = {"status": checks["azure_identity"], "detail": identity.detail}
        if not identity.ok:
            problems.append(f"the Azure identity cannot sign in: {identity.detail}")
    nodes = deps.doorbell.worker_nodes() if checks["broker"] == "ok" else None
    found = pipeline(deps, now=now, worker_nodes=nodes) if checks["database"] == "ok" else None
    body["pipeline"] = asdict(found) if found else None
    problems += [f"the {name} is unreachable" for name in ("database", "broker") if checks[name] != "ok"]
    if found is not None:
        checks["workers"] = "ok" if found.workers_alive else "none"
        checks["scheduler"] = "ok" if found.scheduler_alive else "down"
        problems += _pipeline_problems(found)
    down = checks["database"] != "ok" or checks["broker"] != "ok"
    return {"status": "down" if down else ("degraded" if problems else "ok"), **body, "problems": problems}


def _pipeline_problems(found: Pipeline) -> list[str]:
    problems = []
    if not found.workers_alive:
        problems.append(
            f"no worker alive: {found.jobs_waiting_without_worker} job(s) wait and none will move until one starts"
        )
    if found.workers_on_another_broker:
        problems.append(
            f"{found.workers_on_another_broker} worker(s) alive on another broker than this API's: they take none "
            "of its jobs (check REPROTECT_BROKER__URL on those hosts)"
        )
    if found.workers_on_another_database:
        problems.append(
            f"{found.workers_on_another_database} worker(s) take jobs from this broker but beat into another "
            "database: they find none of its jobs (check REPROTECT_DATABASE__URL on those hosts)"
        )
    if not found.scheduler_alive:
        problems.append("no scheduler alive: due and abandoned jobs are not rung for (the sweeper is down)")
    return problems


def _as_utc(value: datetime | None) -> datetime | None:
    if value is None:
        return None
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
