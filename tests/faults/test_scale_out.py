"""Scale-out on Postgres and Redis: two API processes, three workers and two schedulers (beat twice: sweeps
are idempotent, each job is leased by one worker at a time) take a 300-VM fleet to protected while one
worker and one scheduler are killed mid-run. Before the kill, three distinct Celery nodes answer on the
broker, ``GET /status`` counts three workers beating into the API's database, and the worker about to be
killed has taken work. Every VM ends protected, with one switch protection per attempt, and every invariant
holds."""

from __future__ import annotations

import os
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx
import pytest
from celery import Celery

from tests.faults.harness import Trial

pytestmark = [pytest.mark.faults, pytest.mark.timeout(600)]
FLEET = 300


def _submit_through_both_apis(t: Trial, vms: list[dict[str, str]]) -> list[str]:
    """Requests of 100 VMs, sent to the API processes in turn, concurrently; the request ids."""
    chunks = [vms[i : i + 100] for i in range(0, len(vms), 100)]

    def send(n: int) -> str:
        url = t.stack.api_urls[n % len(t.stack.api_urls)]
        with httpx.Client(base_url=url, headers=t.stack.auth_headers, timeout=120) as api:
            answer = api.post("/reprotect", json={"vms": chunks[n]})
        assert answer.status_code == 202, f"{url}: {answer.status_code} {answer.text}"
        return str(answer.json()["request_id"])

    with ThreadPoolExecutor(len(chunks)) as pool:
        return list(pool.map(send, range(len(chunks))))


def _nodes(t: Trial) -> tuple[list[str], dict[str, Any]]:
    """The Celery nodes answering a ping on the trial's broker (a repeated name would show twice), and each
    node's ``inspect stats`` (its main process id, the tasks it has taken)."""
    control = Celery(broker=t.stack.config.extra_env["REPROTECT_BROKER__URL"])
    try:
        names: list[str] = []
        deadline = time.monotonic() + 20  # busy workers answer a broadcast between tasks
        while len(names) < 3 and time.monotonic() < deadline:
            names = sorted(name for reply in control.control.ping(timeout=1.0) or [] for name in reply)
        stats = control.control.inspect(destination=names, timeout=5.0, limit=len(names)).stats() or {}
    finally:
        control.close()
    return names, stats


def _three_workers_before_the_kill(t: Trial, killed: str) -> None:
    """Three distinct nodes, all beating into the API's database, and ``killed`` among them with work taken."""
    started = time.monotonic()
    names, stats = _nodes(t)
    assert len(names) == len(set(names)) == 3, names
    assert all(name.startswith("reprotect-") for name in names), names
    with httpx.Client(headers=t.stack.auth_headers, timeout=30) as api:
        for url in t.stack.api_urls:
            pipeline = api.get(f"{url}/status").json()["pipeline"]
            assert pipeline["workers_alive"] == 3, pipeline
            assert pipeline["workers_on_another_database"] == 0, pipeline
            assert pipeline["scheduler_alive"], pipeline
    group = next(child.pid for name, child in t.stack.children if name == killed)  # the process group it leads
    [node] = [name for name, stat in stats.items() if os.getpgid(stat["pid"]) == group]
    taken = {name: sum(stat["total"].values()) for name, stat in stats.items()}
    assert taken[node] > 0, taken
    t.say(f"3 worker nodes, tasks taken so far: {taken}; {killed} is {node} ({time.monotonic() - started:.1f} s)")


def test_two_apis_three_workers_two_schedulers_take_300_vms_home_through_kills(trial):
    with trial(scenario=f"fleet:{FLEET}", time_scale=600, api_processes=2, worker_processes=3, schedulers=2) as t:
        t.terminal_timeout = 400
        started = time.monotonic()
        requests = _submit_through_both_apis(t, t.vms())
        t.say(f"{FLEET} VMs accepted in {len(requests)} requests through 2 APIs in {time.monotonic() - started:.1f} s")

        t.wait_for(lambda: t.states()["protected"] >= 1, what="a first VM protected", timeout=300)
        _three_workers_before_the_kill(t, "worker-2")  # a few seconds: done before the kill's moment comes
        t.wait_for(lambda: t.states()["protected"] >= FLEET // 10, what="a tenth of the fleet protected", timeout=300)
        states = dict(t.states())
        t.stack.kill("worker-2")
        t.fault("worker_sigkill", f"worker-2 of 3, for good; jobs by state: {states}")
        t.stack.kill("scheduler-2")
        t.fault("scheduler_sigkill", "scheduler-2 of 2, for good")

        jobs = t.verify()  # every job terminal, deliveries settled, one switch protection per attempt, ...
        failed = {j.vm_name: j.error_code for j in jobs.values() if j.state != "protected"}
        assert not failed, f"not protected: {failed} ({t.reproduce})"
        assert len(jobs) == FLEET
        t.say(f"{FLEET} VMs protected in {time.monotonic() - started:.0f} s with a worker and a scheduler killed")
        with httpx.Client(headers=t.stack.auth_headers, timeout=30) as api:  # both APIs answer the same
            counts = [api.get(f"{url}/jobs/summary").json() for url in t.stack.api_urls]
        assert counts[0] == counts[1]
