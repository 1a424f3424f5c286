"""The job sweeper's doorbells through the service: a ring the broker did not take is not counted as unanswered."""

from __future__ import annotations

from datetime import timedelta

from app.bootstrap import bootstrap
from app.job import service as jobs
from cli.stack import free_port
from tests.conftest import service_settings
from tests.unit.job_rows import NOW, add_job, read_job


def test_a_sweep_the_broker_refused_rings_again_at_the_next_sweep(container, database_url, emulator):
    job_id = add_job(container.sessions, next_due_at=NOW - timedelta(seconds=1))
    broker_down = bootstrap(
        service_settings(database_url, str(emulator.base_url), broker_url=f"redis://127.0.0.1:{free_port()}/0")
    )
    try:
        assert jobs.sweep(broker_down, now=NOW, redispatch_after=60) == [job_id]
    finally:
        broker_down.close()

    assert read_job(container.sessions, job_id).dispatched_at is None  # nothing rang: not waiting for an answer
    assert jobs.sweep(container, now=NOW + timedelta(seconds=1), redispatch_after=60) == [job_id]
    assert read_job(container.sessions, job_id).dispatched_at == NOW + timedelta(seconds=1)
