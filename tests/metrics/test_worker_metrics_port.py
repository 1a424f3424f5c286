"""``reprotect worker --metrics-port`` (how docker-compose's workers expose their metrics): a real worker process,
with no PROMETHEUS_MULTIPROC_DIR given, takes a job the API accepted and serves what its Celery process recorded
(Azure calls, transitions) on its own port; without the supervisor the option is refused."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from app.api.app import create_app
from app.bootstrap import bootstrap
from app.metrics.registry import MULTIPROC_ENV
from cli.stack import free_port, wait_for
from tests.api.conftest import make_key
from tests.api.worker_support import accept
from tests.conftest import ROOT, migrate, service_settings
from tests.metrics.scrape import scrape, total


def _env(database: str, broker: str, emulator: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("REPROTECT_") and k != MULTIPROC_ENV}
    return {
        **env,
        "REPROTECT_ENV": "dev",
        "REPROTECT_DATABASE__URL": database,
        "REPROTECT_BROKER__URL": broker,
        "REPROTECT_AZURE__ENDPOINT": emulator,
        "REPROTECT_JOB__POLL_INTERVAL_SECONDS": "0.2",
        "REPROTECT_JOB__MAX_POLL_INTERVAL_SECONDS": "0.2",
        "REPROTECT_JOB__MIN_POLL_INTERVAL_SECONDS": "0.05",
    }


@pytest.fixture
def worker(tmp_path, emulator) -> Iterator[tuple[str, str, int]]:
    """A supervised worker on a migrated SQLite database and SQLite broker, serving metrics on a free port."""
    database, broker = f"sqlite:///{tmp_path}/jobs.sqlite3", f"sqla+sqlite:///{tmp_path}/broker.sqlite3"
    migrate(database)
    port = free_port()
    command = ["worker", "--concurrency", "2", "--metrics-port", str(port), "--metrics-host", "127.0.0.1"]
    process = subprocess.Popen(
        [sys.executable, "-m", "cli", *command], cwd=ROOT, env=_env(database, broker, str(emulator.base_url)),
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True,
    )  # fmt: skip
    try:
        wait_for(f"http://127.0.0.1:{port}/metrics", what="worker metrics", timeout=60)
        yield database, broker, port
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()


def test_a_worker_serves_the_metrics_its_celery_process_records_on_its_metrics_port(worker, emulator, demo):
    database, broker, port = worker
    box = bootstrap(service_settings(database, str(emulator.base_url), broker_url=broker))
    try:
        with TestClient(create_app(box), headers={"Authorization": f"Bearer {make_key(box)}"}) as api:
            job_id = accept(api, demo["committed"][0])  # the API rings the worker through the broker
            deadline = time.monotonic() + 60
            while True:  # until the worker has moved the job on, calling Azure
                samples = scrape(f"http://127.0.0.1:{port}/metrics")
                moved = total(samples, "reprotect_job_transitions_total", from_state="submitting")
                if moved and total(samples, "reprotect_azure_requests_total"):
                    break
                assert time.monotonic() < deadline, api.get(f"/jobs/{job_id}").json()
                time.sleep(0.2)
            job = api.get(f"/jobs/{job_id}").json()
    finally:
        box.close()

    states = [t["to_state"] for t in job["history"]]  # moves the worker's Celery process made, and counted
    assert "submitting" in states
    assert states[-1] != "submitting"
    assert moved >= 1
    assert "reprotect_fleet_metrics_up" not in {name for name, _ in samples}  # the database is the API's to read


def test_the_metrics_port_needs_the_supervisor(tmp_path):
    env = _env(f"sqlite:///{tmp_path}/jobs.sqlite3", f"sqla+sqlite:///{tmp_path}/broker.sqlite3", "http://x")
    run = subprocess.run(
        [sys.executable, "-m", "cli", "worker", "--no-supervise", "--metrics-port", "9464"],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert run.returncode == 2
    assert "--metrics-port" in run.stderr
    assert "supervisor" in run.stderr
