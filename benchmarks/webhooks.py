"""Webhook benchmark: completion-to-delivery latency and delivery throughput to a local receiver.

Runs the stack (emulator, API, Celery worker and beat; embedded SQLite by default, or Postgres + Redis)
and a receiver on loopback. Phase 1 reprotects N VMs (default 200) and measures, for every
``reprotect.job.succeeded`` event, the time from the job's ``finished_at`` (the transition's commit) to
its arrival at the receiver (p50, p95, max). Phase 2 writes M pending deliveries at once through the
outbox (default 1000, the way a burst of transitions would) and measures deliveries per second from
that commit until the receiver has them all.

    .venv/bin/python benchmarks/webhooks.py [--vms 200] [--deliveries 1000] [--workers 8]
        [--postgres-url postgresql+psycopg://postgres@127.0.0.1:5432/test --redis-url redis://127.0.0.1:6379/14]
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import sys
import tempfile
import time
from contextlib import ExitStack
from datetime import datetime
from pathlib import Path

import httpx
from sqlalchemy import select

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from app.bootstrap import wired_sessions
from app.db import build_engine, transaction, utcnow
from app.webhook.models import WebhookEndpoint, WebhookEvent
from app.webhook.outbox import add_delivery
from cli.stack import StackConfig, free_port, running_stack
from tests.databases import fresh_database
from tests.receiver import running_receiver


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--vms", type=int, default=200)
    parser.add_argument("--workers", type=int, default=8)
    parser.add_argument("--deliveries", type=int, default=1000)
    parser.add_argument("--timeout", type=float, default=900.0)
    parser.add_argument("--postgres-url", help="server URL; a fresh database is created on it")
    parser.add_argument("--redis-url", help="broker URL (with --postgres-url)")
    args = parser.parse_args()
    var_dir = Path(tempfile.mkdtemp(prefix="reprotect-webhook-bench-"))
    config = StackConfig(
        var_dir=var_dir,
        api_port=free_port(),
        scenario=f"fleet:{args.vms}:1",
        time_scale=20000.0,
        worker_concurrency=args.workers,
        quiet=True,
        extra_env={
            "REPROTECT_WEBHOOK__ALLOW_HTTP": "true",
            "REPROTECT_WEBHOOK__ALLOWED_NETWORKS": '["127.0.0.0/8"]',
        },
    )
    with ExitStack() as cleanup:
        cleanup.callback(shutil.rmtree, var_dir, ignore_errors=True)
        if args.postgres_url:
            database = cleanup.enter_context(fresh_database(args.postgres_url, prefix="reprotect_bench"))
            config.extra_env["REPROTECT_DATABASE__URL"] = database
            config.extra_env["REPROTECT_BROKER__URL"] = args.redis_url or "redis://127.0.0.1:6379/14"
        print(f"stack: {'Postgres + Redis' if args.postgres_url else 'embedded (SQLite database and broker)'}")
        receiver = cleanup.enter_context(running_receiver())
        stack = cleanup.enter_context(running_stack(config))
        api = stack_client(stack)
        latency(api, receiver, vms_of(stack.emulator_url), args)
        throughput(stack, receiver, args)


def stack_client(stack) -> httpx.Client:
    return httpx.Client(base_url=stack.api_url, timeout=600, headers=stack.auth_headers)


def latency(api: httpx.Client, receiver, vault_items: list[dict[str, str]], args) -> None:
    api.post("/webhooks", json={"url": receiver.url, "event_types": ["reprotect.job.succeeded"]}).raise_for_status()
    for offset in range(0, len(vault_items), 100):
        batch = vault_items[offset : offset + 100]
        answer = api.post("/reprotect", json={"vms": batch})
        while answer.status_code == 503:
            time.sleep(float(answer.headers.get("Retry-After", "2")))
            answer = api.post("/reprotect", json={"vms": batch})
        answer.raise_for_status()
    wait_for(lambda: len(receiver.received) >= len(vault_items), args.timeout, "succeeded events")
    delays = []
    for item in receiver.received:
        finished = datetime.fromisoformat(item.json["data"]["finished_at"].replace("Z", "+00:00")).timestamp()
        delays.append(item.received_at - finished)
    delays.sort()
    p50 = statistics.median(delays)
    p95 = delays[max(0, round(0.95 * len(delays)) - 1)]
    print(f"events: {len(delays)} reprotect.job.succeeded to one endpoint")
    print(
        f"completion-to-delivery latency: p50 {p50 * 1000:.0f} ms, p95 {p95 * 1000:.0f} ms, max {delays[-1] * 1000:.0f} ms"
    )


def throughput(stack, receiver, args) -> None:
    engine = build_engine(stack.config.env(stack.emulator_url)["REPROTECT_DATABASE__URL"])
    sessions = wired_sessions(engine)
    before = len(receiver.received)
    with transaction(sessions) as session:
        events = list(session.scalars(select(WebhookEvent).where(WebhookEvent.type == "reprotect.job.succeeded")))
        endpoint_id = session.scalars(select(WebhookEndpoint.id)).first()
        now = utcnow()
        for n in range(args.deliveries):
            add_delivery(session, events[n % len(events)], endpoint_id=endpoint_id, now=now)
    started = time.monotonic()  # committed: from here the sweeper and workers deliver them
    wait_for(lambda: len(receiver.received) >= before + args.deliveries, args.timeout, "deliveries")
    wall = time.monotonic() - started
    engine.dispose()
    print(f"throughput: {args.deliveries} deliveries in {wall:.1f} s = {args.deliveries / wall:.1f} deliveries/s")


def vms_of(emulator_url: str) -> list[dict[str, str]]:
    scenario = httpx.get(f"{emulator_url}/_emulator/scenario", timeout=30).json()
    return [
        {"vault_id": vault["id"], "vm_name": item["name"]}
        for sub in scenario["subscriptions"]
        for vault in sub["vaults"]
        for item in vault["items"]
    ]


def wait_for(done, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not done():
        if time.monotonic() > deadline:
            raise SystemExit(f"timed out waiting for {what}")
        time.sleep(0.05)


if __name__ == "__main__":
    main()
