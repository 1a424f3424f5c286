"""The real processes together: emulator, API, Celery worker and beat, on the embedded broker and on
Postgres + Redis. A worker killed with SIGKILL mid-flight loses nothing."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator

import httpx
import pytest
from standardwebhooks.webhooks import Webhook

from cli.stack import Stack
from tests.receiver import running_receiver
from tests.stacks import BACKENDS, stack_on, wait_request_completed

pytestmark = pytest.mark.e2e


@pytest.fixture(params=BACKENDS)
def stack(request, tmp_path) -> Iterator[Stack]:
    """The whole service as separate processes, the way `reprotect dev` runs it."""
    extra = {
        "REPROTECT_JOB__POLL_INTERVAL_SECONDS": "0.5",
        "REPROTECT_JOB__LEASE_SECONDS": "5",
        "REPROTECT_JOB__REDISPATCH_AFTER_SECONDS": "3",
        # Scaled down with the lease: a worker killed after it marked a switch protection as sent leaves
        # its job waiting this long for the call to land before it may be sent again (180 s by default).
        "REPROTECT_AZURE__REQUEST_TIMEOUT_SECONDS": "5",
        "REPROTECT_JOB__SWITCH_SETTLE_SECONDS": "8",
        "REPROTECT_WEBHOOK__ALLOW_HTTP": "true",
        "REPROTECT_WEBHOOK__ALLOWED_NETWORKS": '["127.0.0.0/8"]',
    }
    with stack_on(request.param, tmp_path, extra) as running:
        yield running


def _committed(stack: Stack) -> list[dict]:
    vault = httpx.get(f"{stack.emulator_url}/_emulator/scenario").json()["subscriptions"][0]["vaults"][0]
    return [
        {"vault_id": vault["id"], "vm_name": i["name"]}
        for i in vault["items"]
        if i["protection_state"] == "UnplannedFailoverCommitted" and i["source_vm"] == "present"
    ]


def test_the_running_service_reprotects_the_demo_fleet_and_calls_back(stack):
    targets = _committed(stack)
    with running_receiver() as receiver:
        body = {"vms": targets, "callback_url": receiver.url}
        accepted = httpx.post(f"{stack.api_url}/reprotect", json=body, headers=stack.auth_headers, timeout=60)
        assert accepted.status_code == 202, accepted.text
        summary = wait_request_completed(stack, accepted.json()["request_id"])
        assert summary["counts"]["protected"] == len(targets)
        calls = httpx.get(f"{stack.emulator_url}/_emulator/stats").json()["calls_by_item"]
        assert all(calls[t["vm_name"]]["ReplicationProtectionContainers_SwitchProtection"] == 1 for t in targets)

        # The Celery worker delivers the callbacks, signed with the request's secret.
        deadline = time.monotonic() + 30
        while len(receiver.received) < len(targets) + 1 and time.monotonic() < deadline:
            time.sleep(0.2)
        hook = Webhook(accepted.json()["callback_secret"])
        events = [hook.verify(r.body, r.headers) for r in receiver.received]
    assert sorted(e["type"] for e in events) == sorted(
        ["reprotect.job.succeeded"] * len(targets) + ["reprotect.request.completed"]
    )
    job_ids = {j["id"] for j in accepted.json()["jobs"]}
    assert {e["data"]["job_id"] for e in events if e["type"] == "reprotect.job.succeeded"} == job_ids


def test_a_worker_killed_mid_flight_loses_nothing(stack):
    targets = _committed(stack)
    accepted = httpx.post(f"{stack.api_url}/reprotect", json={"vms": targets}, headers=stack.auth_headers, timeout=60)
    assert accepted.status_code == 202
    time.sleep(1.0)
    name, worker = next((n, c) for n, c in stack.children if n == "worker")
    os.killpg(worker.pid, signal.SIGKILL)
    worker.wait()
    stack.children.remove((name, worker))
    replacement = subprocess.Popen(  # a new worker, as a supervisor would start one
        [sys.executable, "-m", "cli", "worker", "--concurrency", "4"],
        env=stack.config.env(stack.emulator_url),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    stack.children.append(("worker", replacement))
    summary = wait_request_completed(stack, accepted.json()["request_id"])
    assert summary["counts"]["protected"] == len(targets)
    calls = httpx.get(f"{stack.emulator_url}/_emulator/stats").json()["calls_by_item"]
    assert all(calls[t["vm_name"]].get("ReplicationProtectionContainers_SwitchProtection", 0) == 1 for t in targets)
