"""Event stream benchmark: change-to-receipt latency of ``GET /events/jobs`` with many concurrent subscribers.

One API process (uvicorn, as ``reprotect api`` runs it) on a fresh Postgres database seeded with jobs in
two vaults. A separate client process opens N streams (default 1,000): half unrestricted, a quarter with
a reader key scoped to vault A, a quarter filtered on ``vault_id`` = vault B, so every change reaches
three quarters of them. The benchmark then commits job transitions at a steady rate, alternating the
vaults, and every subscriber records, per event, receipt time minus the transition's ``at`` (stamped
just before its commit): p50 / p95 / p99 / max, and events received against expected.

Reference in the same run, same client: a bare Starlette SSE endpoint served by uvicorn the same way,
fanning each change out from memory (no database, no auth, no filter) - the floor for this machine.

    .venv/bin/python benchmarks/event_stream.py --postgres-url postgresql+psycopg://postgres@127.0.0.1:5432/test
        [--subscribers 1000] [--rate 10] [--seconds 20]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import statistics
import subprocess
import sys
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

SUB_A = "11111111-1111-1111-1111-111111111111"
VAULT_A = f"/subscriptions/{SUB_A}/resourceGroups/dr-a/providers/Microsoft.RecoveryServices/vaults/vault-a"
VAULT_B = f"/subscriptions/{SUB_A}/resourceGroups/dr-b/providers/Microsoft.RecoveryServices/vaults/vault-b"


# ---------------------------------------------------------------- the client process


async def _subscribe(
    host: str, port: int, path: str, headers: dict[str, str], latencies: list[float], ready: asyncio.Event
) -> None:
    """One stream over a minimal HTTP/1.1 reader (keeps the client's own CPU out of the figure): every
    ``data:`` line is one event; chunk-size lines of the chunked encoding are skipped."""
    reader, writer = await asyncio.open_connection(host, port)
    head = "".join(f"{k}: {v}\r\n" for k, v in headers.items())
    writer.write(f"GET {path} HTTP/1.1\r\nHost: {host}\r\n{head}Accept: text/event-stream\r\n\r\n".encode())
    await writer.drain()
    status = await reader.readline()
    if b" 200 " not in status:
        raise RuntimeError(f"stream refused: {status!r}")
    ready.set()
    while line := await reader.readline():
        if line.startswith(b"data: "):
            at = json.loads(line[6:])["at"]
            latencies.append(time.time() - datetime.fromisoformat(at).timestamp())
    writer.close()


async def _client(url: str, plan: list[dict[str, Any]]) -> None:
    """Open every stream of ``plan``, say ``ready``, and on ``stop`` (stdin) print the latencies as JSON."""
    parsed = httpx.URL(url)
    latencies: list[float] = []
    tasks = []
    for i in range(0, len(plan), 100):  # connect in batches: 1,000 key checks at once would only queue
        batch = []
        for stream in plan[i : i + 100]:
            ready = asyncio.Event()
            tasks.append(
                asyncio.create_task(
                    _subscribe(parsed.host, parsed.port or 80, stream["path"], stream["headers"], latencies, ready)
                )
            )
            batch.append(ready)
        await asyncio.wait_for(asyncio.gather(*(r.wait() for r in batch)), timeout=60)
    print("ready", flush=True)
    await asyncio.to_thread(sys.stdin.readline)
    failed = [t for t in tasks if t.done() and t.exception()]
    print(json.dumps({"latencies": latencies, "failed": len(failed)}), flush=True)
    for task in tasks:
        task.cancel()


# ---------------------------------------------------------------- the reference server

subscribers: set[asyncio.Queue[bytes]] = set()


def bare_app() -> Any:
    """SSE fan-out from memory: ``POST /publish`` sends one event (stamped now) to every open stream."""
    from starlette.applications import Starlette
    from starlette.requests import Request
    from starlette.responses import Response, StreamingResponse
    from starlette.routing import Route

    async def stream(request: Request) -> StreamingResponse:
        async def frames() -> AsyncIterator[bytes]:
            queue: asyncio.Queue[bytes] = asyncio.Queue(maxsize=1000)
            subscribers.add(queue)
            try:
                yield b": open\n\n"
                while True:
                    yield await queue.get()
            finally:
                subscribers.discard(queue)

        return StreamingResponse(frames(), media_type="text/event-stream")

    async def publish(request: Request) -> Response:
        at = datetime.now(UTC).isoformat()
        frame = f"event: job\ndata: {json.dumps({'at': at})}\n\n".encode()
        for queue in list(subscribers):
            queue.put_nowait(frame)
        return Response(status_code=204)

    async def health(request: Request) -> Response:
        return Response("ok")

    return Starlette(
        routes=[
            Route("/events/jobs", stream),
            Route("/publish", publish, methods=["POST"]),
            Route("/healthz", health),
        ]
    )


# ---------------------------------------------------------------- the driver


@contextmanager
def _server(command: list[str], port: int, env: dict[str, str], log: Path) -> Iterator[str]:
    url = f"http://127.0.0.1:{port}"
    with log.open("wb") as out:
        process = subprocess.Popen(command, stdout=out, stderr=out, cwd=ROOT, env={**os.environ, **env})
    try:
        deadline = time.monotonic() + 30
        while True:
            if process.poll() is not None:
                raise RuntimeError(f"server exited: {log.read_text()[-2000:]}")
            try:
                if httpx.get(f"{url}/healthz", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError("server did not start")
            time.sleep(0.2)
        yield url
    finally:
        process.terminate()
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            print("  (server needed a kill: shutdown hung)")


@contextmanager
def _clients(url: str, plan: list[dict[str, Any]]) -> Iterator[subprocess.Popen[str]]:
    process = subprocess.Popen(
        [sys.executable, __file__, "--client", url],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
        cwd=ROOT,
    )
    assert process.stdin is not None
    assert process.stdout is not None
    process.stdin.write(json.dumps(plan) + "\n")
    process.stdin.flush()
    if process.stdout.readline().strip() != "ready":
        raise RuntimeError("the client process could not open its streams")
    try:
        yield process
    finally:
        if process.poll() is None:
            process.kill()


def _stop_and_collect(process: subprocess.Popen[str]) -> dict[str, Any]:
    assert process.stdin is not None
    assert process.stdout is not None
    process.stdin.write("stop\n")
    process.stdin.flush()
    result: dict[str, Any] = json.loads(process.stdout.readline())
    process.wait(timeout=30)
    return result


def _steady(rate: float, seconds: float, action: Any) -> int:
    """Call ``action(i)`` ``rate`` times a second for ``seconds``; returns how many calls were made."""
    start = time.monotonic()
    count = int(rate * seconds)
    for i in range(count):
        delay = start + i / rate - time.monotonic()
        if delay > 0:
            time.sleep(delay)
        action(i)
    return count


def _report(name: str, result: dict[str, Any], expected: int) -> None:
    values = sorted(result["latencies"])
    if not values:
        print(f"{name}: no events received")
        return
    q = statistics.quantiles(values, n=100, method="inclusive")
    print(
        f"{name}: received {len(values)}/{expected} events, {result['failed']} streams failed; latency "
        f"p50 {q[49] * 1000:.0f} ms, p95 {q[94] * 1000:.0f} ms, p99 {q[98] * 1000:.0f} ms, "
        f"max {values[-1] * 1000:.0f} ms"
    )


def _seed(database_url: str, jobs_per_vault: int) -> tuple[str, str, list[uuid.UUID], list[uuid.UUID]]:
    from alembic import command
    from alembic.config import Config

    from app.auth import key_store
    from app.auth.principal import Role
    from app.bootstrap import wired_sessions
    from app.db import build_engine, transaction, utcnow
    from app.job.models import Job, JobTransition, ReprotectRequest

    config = Config(str(ROOT / "alembic.ini"))
    config.set_main_option("sqlalchemy.url", database_url)
    command.upgrade(config, "head")
    engine = build_engine(database_url)
    sessions = wired_sessions(engine)
    now = utcnow()
    ids: dict[str, list[uuid.UUID]] = {VAULT_A: [], VAULT_B: []}
    with transaction(sessions) as session:
        admin = key_store.create(session, name="bench", role=Role.ADMIN, scopes=["*"], created_by="bench", now=now)
        reader = key_store.create(
            session, name="bench-a", role=Role.READER, scopes=[VAULT_A], created_by="bench", now=now
        )
        request = ReprotectRequest(vm_count=2 * jobs_per_vault)
        session.add(request)
        for vault, jobs in ids.items():
            for n in range(jobs_per_vault):
                name = f"vm-{vault[-1]}-{n:04d}"
                job = Job(
                    request=request,
                    vm_key=f"{vault.lower()}/{name}",
                    vm_name=name,
                    vault_id=vault,
                    subscription_id=SUB_A,
                    item_id=f"{vault}/replicationFabrics/f/replicationProtectionContainers/c/replicationProtectedItems/{name}",
                    state="syncing",
                    deadline_at=now + timedelta(hours=48),
                )
                session.add(job)
                session.flush()
                session.add(JobTransition(job=job, attempt=1, from_state=None, to_state="accepted", at=now))
                jobs.append(job.id)
    engine.dispose()
    return admin.plaintext, reader.plaintext, ids[VAULT_A], ids[VAULT_B]


def _api_plan(subscribers: int, admin: str, reader: str) -> list[dict[str, Any]]:
    plan = []
    for i in range(subscribers):
        if i % 4 in (0, 1):
            plan.append({"path": "/events/jobs", "headers": {"Authorization": f"Bearer {admin}"}})
        elif i % 4 == 2:
            plan.append({"path": "/events/jobs", "headers": {"Authorization": f"Bearer {reader}"}})
        else:
            query = httpx.QueryParams({"vault_id": VAULT_B})
            plan.append({"path": f"/events/jobs?{query}", "headers": {"Authorization": f"Bearer {admin}"}})
    return plan


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--postgres-url", default=os.environ.get("REPROTECT_TEST_POSTGRES_URL"))
    parser.add_argument("--subscribers", type=int, default=1000)
    parser.add_argument("--rate", type=float, default=10.0, help="changes committed per second")
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument(
        "--poll-interval", type=float, help="REPROTECT_EVENTS__POLL_INTERVAL_SECONDS (default: the service's)"
    )
    parser.add_argument("--client", help=argparse.SUPPRESS)
    parser.add_argument("--bare-server", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.client:
        asyncio.run(_client(args.client, json.loads(sys.stdin.readline())))
        return
    if args.bare_server:
        import uvicorn

        uvicorn.run(bare_app(), host="127.0.0.1", port=args.bare_server, log_level="warning")
        return
    if not args.postgres_url:
        parser.error("--postgres-url (or REPROTECT_TEST_POSTGRES_URL) is required")

    from sqlalchemy import update

    from app.bootstrap import wired_sessions
    from app.db import build_engine, transaction, utcnow
    from app.job.models import Job, JobTransition
    from cli.stack import free_port
    from tests.databases import fresh_database

    logs = Path(os.environ.get("TMPDIR", "/tmp"))
    count = int(args.rate * args.seconds)
    print(
        f"machine: {os.cpu_count()} CPUs, load {os.getloadavg()[0]:.1f}; {args.subscribers} subscribers, "
        f"{args.rate:g} changes/s for {args.seconds:g} s; poll interval {args.poll_interval or 'default'}"
    )
    with fresh_database(args.postgres_url, prefix="reprotect_bench") as database_url:
        admin, reader, jobs_a, jobs_b = _seed(database_url, jobs_per_vault=100)
        engine = build_engine(database_url)
        sessions = wired_sessions(engine)
        picks = random.Random(7)

        def change(i: int) -> None:
            job_id = picks.choice(jobs_a if i % 2 == 0 else jobs_b)
            with transaction(sessions) as session:
                now = utcnow()
                session.execute(update(Job).where(Job.id == job_id).values(resync_percent=i % 100, updated_at=now))
                session.add(JobTransition(job_id=job_id, attempt=1, from_state="syncing", to_state="syncing", at=now))

        port = free_port()
        env = {
            "REPROTECT_DATABASE__URL": database_url,
            "REPROTECT_BROKER__URL": "memory://",
            "REPROTECT_AUTH__RATE_LIMIT__ENABLED": "false",
        }
        if args.poll_interval is not None:
            env["REPROTECT_EVENTS__POLL_INTERVAL_SECONDS"] = str(args.poll_interval)
        command = [sys.executable, "-m", "uvicorn", "app.api.app:create_app", "--factory", "--port", str(port)]
        command += ["--log-level", "warning"]
        with _server(command, port, env, logs / "event-stream-bench-api.log") as url:
            started = time.monotonic()
            with _clients(url, _api_plan(args.subscribers, admin, reader)) as client:
                print(f"api: {args.subscribers} streams open in {time.monotonic() - started:.1f} s")
                sent = _steady(args.rate, args.seconds, change)
                time.sleep(3)
                result = _stop_and_collect(client)
            stopping = time.monotonic()
        print(f"api: stopped (SIGTERM) in {time.monotonic() - stopping:.1f} s")
        _report("api (Postgres, one process)", result, sent * args.subscribers * 3 // 4)
        engine.dispose()

    port = free_port()
    bare = [sys.executable, __file__, "--bare-server", str(port)]
    with _server(bare, port, {}, logs / "event-stream-bench-bare.log") as url:
        plan = [{"path": "/events/jobs", "headers": {}} for _ in range(args.subscribers * 3 // 4)]
        with httpx.Client(base_url=url) as http, _clients(url, plan) as client:
            sent = _steady(args.rate, args.seconds, lambda i: http.post("/publish"))
            time.sleep(3)
            result = _stop_and_collect(client)
    _report(f"reference (bare SSE fan-out from memory, {len(plan)} streams)", result, sent * len(plan))
    print(f"changes: {count} committed, one per transaction")


if __name__ == "__main__":
    main()
