"""Health that sees the whole pipeline, with real processes: a stopped worker or scheduler shows in
``/status`` (and in ``/readyz``'s report) while the API stays ready; jobs waiting with no worker are counted."""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest

from cli.stack import Stack
from tests.conftest import fresh_postgres_database
from tests.stacks import BACKENDS, stack_on

pytestmark = pytest.mark.e2e


@pytest.fixture(params=BACKENDS)
def stack(request, tmp_path) -> Iterator[Stack]:
    """The whole service as `reprotect dev` runs it, beating every half second, stale after two."""
    extra = {"REPROTECT_HEALTH__HEARTBEAT_SECONDS": "0.5", "REPROTECT_HEALTH__STALE_AFTER_SECONDS": "2"}
    with stack_on(request.param, tmp_path, extra) as running:
        yield running


def _status(stack: Stack) -> dict[str, Any]:
    answer = httpx.get(f"{stack.api_url}/status", headers=stack.auth_headers, timeout=10)
    assert answer.status_code == 200, answer.text
    return dict(answer.json())


def _until(stack: Stack, wanted: Callable[[dict[str, Any]], bool], timeout: float = 30) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    seen = _status(stack)
    while not wanted(seen):
        if time.monotonic() > deadline:
            raise AssertionError(f"status never became as wanted: {seen}")
        time.sleep(0.3)
        seen = _status(stack)
    return seen


def _one_committed_vm(stack: Stack) -> dict[str, str]:
    vault = httpx.get(f"{stack.emulator_url}/_emulator/scenario").json()["subscriptions"][0]["vaults"][0]
    item = next(
        i
        for i in vault["items"]
        if i["protection_state"] == "UnplannedFailoverCommitted" and i["source_vm"] == "present"
    )
    return {"item_id": item["id"]}


def _everyone_alive(status: dict[str, Any]) -> bool:
    return status["pipeline"]["workers_alive"] >= 1 and status["pipeline"]["scheduler_alive"]


def test_with_the_worker_stopped_the_api_stays_ready_and_status_shows_jobs_waiting_without_worker(stack):
    healthy = _until(stack, _everyone_alive)
    assert healthy["status"] == "ok", healthy
    assert set(healthy["checks"].values()) == {"ok"}
    assert {"database", "broker", "azure_identity", "workers", "scheduler"} == set(healthy["checks"])

    stack.kill("worker")  # SIGKILL, as a crash: no goodbye, its heartbeat only goes stale
    _until(stack, lambda s: s["pipeline"]["workers_alive"] == 0)
    accepted = httpx.post(
        f"{stack.api_url}/reprotect", json={"vms": [_one_committed_vm(stack)]}, headers=stack.auth_headers, timeout=60
    )
    assert accepted.status_code == 202, accepted.text
    job_id = accepted.json()["jobs"][0]["id"]
    waiting = _until(stack, lambda s: s["pipeline"]["jobs_waiting_without_worker"] >= 1)
    assert waiting["status"] == "degraded"
    assert waiting["checks"]["workers"] == "none"
    assert waiting["pipeline"]["jobs_accepted"] == 1
    assert waiting["pipeline"]["oldest_due_job_age_seconds"] is not None
    assert any(problem.startswith("no worker alive: 1 job(s) wait") for problem in waiting["problems"])
    # Readiness is the API's own dependencies: no worker must not take every API pod out of the Service.
    ready = httpx.get(f"{stack.api_url}/readyz", timeout=10)
    assert ready.status_code == 200
    assert ready.json()["pipeline"]["workers_alive"] == 0
    assert ready.json()["pipeline"]["jobs_waiting_without_worker"] == 1
    job = httpx.get(f"{stack.api_url}/jobs/{job_id}", headers=stack.auth_headers).json()
    assert job["state"] == "accepted"

    stack.respawn("worker")  # a supervisor starts it again: the job moves, the status clears
    moving = _until(stack, lambda s: s["pipeline"]["workers_alive"] >= 1 and s["pipeline"]["jobs_accepted"] == 0)
    assert moving["pipeline"]["jobs_waiting_without_worker"] == 0


def test_with_the_scheduler_stopped_status_says_the_sweeper_is_down_and_the_api_stays_ready(stack):
    _until(stack, _everyone_alive)
    stack.kill("scheduler")
    down = _until(stack, lambda s: not s["pipeline"]["scheduler_alive"])
    assert down["status"] == "degraded"
    assert down["checks"]["scheduler"] == "down"
    assert down["checks"]["workers"] == "ok"
    assert any(problem.startswith("no scheduler alive") for problem in down["problems"])
    ready = httpx.get(f"{stack.api_url}/readyz", timeout=10)
    assert ready.status_code == 200
    assert ready.json()["pipeline"]["scheduler_alive"] is False


def test_status_is_for_signed_in_callers(stack):
    assert httpx.get(f"{stack.api_url}/status", timeout=10).status_code == 401


def test_a_worker_on_our_broker_but_another_database_is_named(stack, tmp_path):
    if not stack.config.extra_env.get("REPROTECT_BROKER__URL", "").startswith("redis"):
        pytest.skip("the embedded SQLite broker cannot broadcast: workers are not pinged there")
    healthy = _until(stack, _everyone_alive)
    assert healthy["pipeline"]["workers_on_another_database"] == 0  # our own worker beats into our database
    with fresh_postgres_database() as elsewhere:
        env = stack.config.env(stack.emulator_url) | {"REPROTECT_DATABASE__URL": elsewhere}
        subprocess.run([sys.executable, "-m", "cli", "migrate"], env=env, check=True, capture_output=True)
        log = (tmp_path / "stray-worker.log").open("wb")
        stray = subprocess.Popen(
            [sys.executable, "-m", "cli", "worker", "--no-supervise", "--concurrency", "1"],
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        try:
            seen = _until(stack, lambda s: s["pipeline"]["workers_on_another_database"] == 1, timeout=60)
            assert seen["status"] == "degraded"
            assert any("beat into another database" in problem for problem in seen["problems"])
            assert seen["pipeline"]["workers_alive"] == 1  # only ours counts as alive
        finally:
            stray.terminate()
            stray.wait(timeout=30)
            log.close()
