"""Webhook benchmark: completion-to-delivery latency and delivery throughput to a local receiver.

Runs the embedded stack (emulator, API, Celery worker and beat on SQLite) and a receiver on loopback.
Phase 1 reprotects N VMs (default 200) and measures, for every ``reprotect.job.succeeded`` event,
the time from the job's ``finished_at`` to its arrival at the receiver (p50, p95, max). Phase 2
asks for a redelivery of every delivered event at once and measures deliveries per second until the
receiver has them all.

    .venv/bin/python benchmarks/webhooks.py [--vms 200] [--workers 8]
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from cli.stack import StackConfig, free_port, running_stack
from tests.receiver import running_receiver


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--vms", type=int, default=200)
    parser.add_argument("--workers", type=int, default=8)
    parser.add_argument("--timeout", type=float, default=900.0)
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
    try:
        with running_receiver() as receiver, running_stack(config) as stack:
            api = stack_client(stack)
            latency(api, receiver, vms_of(stack.emulator_url), args)
            throughput(api, receiver, args)
    finally:
        shutil.rmtree(var_dir, ignore_errors=True)


def stack_client(stack) -> httpx.Client:
    return httpx.Client(base_url=stack.api_url, timeout=600, headers=getattr(stack, "auth_headers", {}))


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


def throughput(api: httpx.Client, receiver, args) -> None:
    delivered = []
    cursor = None
    while True:
        page = api.get("/webhook-deliveries", params={"status": "delivered", "limit": 200, "cursor": cursor}).json()
        delivered += [d["id"] for d in page["items"]]
        cursor = page["next_cursor"]
        if not cursor:
            break
    before = len(receiver.received)
    started = time.monotonic()
    for delivery_id in delivered:
        api.post(f"/webhook-deliveries/{delivery_id}/redeliver").raise_for_status()
    asked = time.monotonic() - started
    wait_for(lambda: len(receiver.received) >= before + len(delivered), args.timeout, "redeliveries")
    wall = time.monotonic() - started
    print(f"redeliveries: {len(delivered)} (asked for in {asked:.1f} s)")
    print(f"throughput: {len(delivered) / wall:.1f} deliveries/s ({wall:.1f} s from first request to last arrival)")


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
