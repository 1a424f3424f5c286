"""Multiprocess mode: two processes record into one PROMETHEUS_MULTIPROC_DIR and one scrape sums both (in
process, and over HTTP from the stand-alone exporter of worker-only hosts)."""

from __future__ import annotations

import os
import subprocess
import sys

from app.metrics.registry import MULTIPROC_ENV, render, scrape_registry, shared_directory_for
from cli.stack import free_port, wait_for
from tests.metrics.scrape import parse, scrape, value

WRITER = """
from app.metrics import definitions as m
from app.metrics.azure import AzureCallMetrics  # noqa: F401  (imports as the worker does)
m.JOB_TRANSITIONS.labels("syncing", "protected").inc()
m.JOB_TIME_TO_PROTECTED.observe(120.0)
m.AZURE_REQUESTS.labels("GET replicationJobs", "200").inc(3)
"""


def test_two_processes_write_and_one_scrape_sees_both(tmp_path, monkeypatch):
    env = {**os.environ, MULTIPROC_ENV: str(tmp_path)}
    for _ in range(2):
        subprocess.run([sys.executable, "-c", WRITER], env=env, check=True, timeout=60)
    assert len(list(tmp_path.glob("*.db"))) >= 2  # one file per process and kind

    monkeypatch.setenv(MULTIPROC_ENV, str(tmp_path))
    samples = parse(render(scrape_registry()).decode())
    assert value(samples, "reprotect_job_transitions_total", from_state="syncing", to_state="protected") == 2
    assert value(samples, "reprotect_job_time_to_protected_seconds_count") == 2
    assert value(samples, "reprotect_job_time_to_protected_seconds_bucket", le="300.0") == 2
    assert value(samples, "reprotect_azure_requests_total", operation="GET replicationJobs", status="200") == 6


def test_the_stand_alone_exporter_serves_the_workers_metrics_over_http(tmp_path):
    env = {**os.environ, MULTIPROC_ENV: str(tmp_path)}
    for _ in range(2):
        subprocess.run([sys.executable, "-c", WRITER], env=env, check=True, timeout=60)
    port = free_port()
    exporter = subprocess.Popen(
        [sys.executable, "-m", "app.metrics.exporter", "--host", "127.0.0.1", "--port", str(port)], env=env
    )
    try:
        wait_for(f"http://127.0.0.1:{port}/metrics", what="exporter", timeout=30)
        samples = scrape(f"http://127.0.0.1:{port}/metrics")
    finally:
        exporter.terminate()
        exporter.wait(timeout=10)
    assert value(samples, "reprotect_job_transitions_total", from_state="syncing", to_state="protected") == 2
    assert "reprotect_fleet_metrics_up" not in {name for name, _ in samples}  # the database is the API's to read


def test_several_api_workers_get_a_shared_directory_when_none_is_configured(tmp_path, monkeypatch):
    # setenv first: delenv of an unset variable records nothing, and the directory made below would outlive
    # the test (removed, but still named by the variable: later tests' prometheus_client then refuses it).
    monkeypatch.setenv(MULTIPROC_ENV, "unset-below")
    monkeypatch.delenv(MULTIPROC_ENV)
    assert shared_directory_for(1) is None  # one process: its own registry is the whole truth
    assert MULTIPROC_ENV not in os.environ

    made = shared_directory_for(2)  # monkeypatch restores the variable afterwards (setenv above)
    assert made is not None
    assert os.environ[MULTIPROC_ENV] == made  # the uvicorn workers inherit it
    assert os.listdir(made) == []
    os.rmdir(made)

    monkeypatch.setenv(MULTIPROC_ENV, str(tmp_path))
    assert shared_directory_for(4) == str(tmp_path)  # a configured directory is used as it is
