"""/metrics on the real processes (emulator, API, Celery worker and beat) in multiprocess mode: a small fleet
reprotected end to end moves the counters and histograms the API process serves, including those only the
worker records (transitions, Azure calls, webhook deliveries)."""

from __future__ import annotations

import time
from collections.abc import Iterator

import httpx
import pytest

from cli.stack import Stack
from tests.metrics.scrape import scrape, total, value
from tests.receiver import running_receiver
from tests.stacks import BACKENDS, stack_on

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(900)]
SWITCH = "POST replicationProtectionContainers/switchprotection"


@pytest.fixture(params=BACKENDS)
def stack(request, tmp_path) -> Iterator[Stack]:
    """The whole service as separate processes sharing one PROMETHEUS_MULTIPROC_DIR."""
    metrics_dir = tmp_path / "prometheus"
    metrics_dir.mkdir()
    extra = {
        "PROMETHEUS_MULTIPROC_DIR": str(metrics_dir),
        "REPROTECT_JOB__POLL_INTERVAL_SECONDS": "0.5",
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


def _wait(condition, what: str, timeout: float = 300) -> None:
    """Until ``condition()``; the deadline only guards against a hang (32 s in one CI run, past 120 s in the next:
    each step's end is noticed through list snapshots up to 30 s old, and the machine was busier)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.5)
    raise AssertionError(f"{what}: not within {timeout}s")


def test_a_reprotected_fleet_and_a_throttled_check_move_the_metrics_the_api_serves(stack):
    metrics_url = f"{stack.api_url}/metrics"
    before = scrape(metrics_url, **stack.auth_headers)
    assert value(before, "reprotect_fleet_metrics_up") == 1
    assert value(before, "reprotect_job_transitions_total", from_state="syncing", to_state="protected") == 0
    targets = _committed(stack)
    n = len(targets)

    with running_receiver() as receiver:
        body = {"vms": targets, "callback_url": receiver.url}
        accepted = httpx.post(f"{stack.api_url}/reprotect", json=body, headers=stack.auth_headers, timeout=60)
        assert accepted.status_code == 202, accepted.text
        status_url = f"{stack.api_url}/reprotect/{accepted.json()['request_id']}"
        _wait(lambda: httpx.get(status_url, headers=stack.auth_headers).json()["completed"], "request completed")
        _wait(lambda: len(receiver.received) >= n + 1, "callbacks delivered", timeout=30)
        # The worker counts a delivery once its attempt is recorded, a moment after the receiver saw it.
        _wait(
            lambda: (
                total(
                    scrape(metrics_url, **stack.auth_headers),
                    "reprotect_webhook_delivery_attempts_total",
                    outcome="delivered",
                )
                >= n + 1
            ),
            "deliveries counted",
            timeout=30,
        )
    after = scrape(metrics_url, **stack.auth_headers)

    # Jobs by state, read from the database at scrape time.
    assert value(after, "reprotect_jobs", state="protected") == n
    assert value(after, "reprotect_jobs", state="accepted") == 0
    # Transitions and time per state: recorded by the worker process, served by the API's.
    for source, target in [
        ("accepted", "validating"),
        ("validating", "submitting"),
        ("submitting", "reprotecting"),
        ("reprotecting", "syncing"),
        ("syncing", "protected"),
    ]:
        assert value(after, "reprotect_job_transitions_total", from_state=source, to_state=target) == n, target
    for state in ("accepted", "validating", "submitting", "reprotecting", "syncing"):
        assert value(after, "reprotect_job_state_duration_seconds_count", state=state) == n, state
    assert value(after, "reprotect_job_time_to_protected_seconds_count") == n
    assert value(after, "reprotect_job_time_to_protected_seconds_sum") > 0
    assert value(after, "reprotect_job_step_duration_seconds_count", state="reprotecting") >= n
    # One switch protection per VM, each answered 202 by the emulator.
    assert value(after, "reprotect_azure_requests_total", operation=SWITCH, status="202") == n
    assert value(after, "reprotect_azure_request_duration_seconds_count", operation=SWITCH) == n
    # Webhooks: every job's event and the request's, delivered, with their latency.
    assert value(after, "reprotect_webhook_delivery_latency_seconds_count") >= n + 1
    assert value(after, "reprotect_webhook_deliveries_pending") == 0
    # HTTP requests by route template (never the raw path) and status.
    assert (
        value(after, "reprotect_http_request_duration_seconds_count", method="POST", route="/reprotect", status="202")
        == 1
    )
    polled = value(
        after,
        "reprotect_http_request_duration_seconds_count",
        method="GET",
        route="/reprotect/{request_id}",
        status="200",
    )
    assert polled >= 1
    assert not any(name.startswith("reprotect_http") and ("route", status_url) in labels for name, labels in after)

    # Throttling: 429s and the Retry-After Azure asked for (one stack start serves both checks).
    throttle = {"reads": {"burst": 0, "per_second": 1 / 16}, "writes": {"burst": 200, "per_second": 10}}
    httpx.put(f"{stack.emulator_url}/_emulator/throttle", json=throttle).raise_for_status()
    try:
        # A dry run checks every VM with reads from the API process: the emulator answers 429, Retry-After 16.
        body = {"vms": targets[:1]}
        httpx.post(f"{stack.api_url}/reprotect?dry_run=true", json=body, headers=stack.auth_headers, timeout=60)
    finally:
        httpx.put(f"{stack.emulator_url}/_emulator/throttle", json={"enabled": False}).raise_for_status()
    throttled = scrape(metrics_url, **stack.auth_headers)
    assert total(throttled, "reprotect_azure_requests_total", status="429") >= 1
    assert value(throttled, "reprotect_azure_retry_after_seconds_total") >= 16
