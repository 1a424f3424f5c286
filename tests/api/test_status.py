"""``GET /status`` and ``/readyz`` over the real app and database: workers and scheduler counted by their
heartbeats, a job waiting with no worker shown as such, and the API request id in the job's history."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import insert

from app.db import transaction, utcnow
from app.health.heartbeat import Heartbeat
from app.health.models import ProcessHeartbeat
from tests.drive import drive


def _submit(api, demo, *, request_id: str = "status-test") -> dict:
    vm = demo["committed"][0]
    accepted = api.post("/reprotect", json={"vms": [{"item_id": vm["id"]}]}, headers={"x-request-id": request_id})
    assert accepted.status_code == 202, accepted.text
    return dict(accepted.json()["jobs"][0])


def test_a_job_accepted_with_no_worker_alive_is_shown_waiting_without_worker(api, demo):
    _submit(api, demo)
    status = api.get("/status").json()
    assert status["status"] == "degraded"
    assert status["checks"]["workers"] == "none"
    assert status["pipeline"]["workers_alive"] == 0
    assert status["pipeline"]["jobs_accepted"] == 1
    assert status["pipeline"]["jobs_waiting_without_worker"] == 1
    assert status["pipeline"]["oldest_due_job_age_seconds"] >= 0
    assert "no worker alive: 1 job(s) wait and none will move until one starts" in status["problems"]
    ready = api.get("/readyz")
    assert ready.status_code == 200  # readiness is the API's own dependencies, not the workers'
    assert ready.json()["pipeline"]["jobs_waiting_without_worker"] == 1


def test_a_beating_worker_and_scheduler_make_the_status_ok_and_a_clean_stop_removes_them(api, container):
    url = container.settings.database.url
    worker = Heartbeat(url, kind="worker", interval_seconds=60)
    scheduler = Heartbeat(url, kind="scheduler", interval_seconds=60)
    worker.start()
    scheduler.start()
    try:
        status = api.get("/status").json()
        assert status["status"] == "ok", status
        assert status["pipeline"]["workers_alive"] == 1
        assert status["pipeline"]["scheduler_alive"] is True
        assert status["problems"] == []
    finally:
        worker.stop()
        scheduler.stop()
    stopped = api.get("/status").json()["pipeline"]
    assert stopped["workers_alive"] == 0
    assert stopped["scheduler_alive"] is False
    assert stopped["worker_last_seen"] is None  # a clean stop is not a crash: the row is gone


def test_a_stale_heartbeat_counts_as_gone_but_its_last_sighting_is_shown(api, container):
    old = utcnow() - timedelta(seconds=container.settings.health.stale_after_seconds + 5)
    with transaction(container.sessions) as session:
        session.execute(
            insert(ProcessHeartbeat).values(
                id="host:1:x", kind="worker", host="host", pid=1, started_at=old, seen_at=old
            )
        )
    pipeline = api.get("/status").json()["pipeline"]
    assert pipeline["workers_alive"] == 0
    assert pipeline["worker_last_seen"] is not None


def test_status_needs_a_signed_in_caller(bare_with):
    answer = bare_with.get("/status")
    assert answer.status_code == 401
    assert answer.headers["content-type"].startswith("application/problem+json")


def test_every_history_entry_names_the_api_request_the_worker_steps_included(api, container, demo):
    job = _submit(api, demo, request_id="trace-in-process")
    drive(container)
    history = api.get(f"/jobs/{job['id']}").json()["history"]
    assert [entry["to_state"] for entry in history][-1] == "protected"
    assert {entry["request_id"] for entry in history} == {"trace-in-process"}
    retried_or_not = api.get(f"/jobs/{job['id']}", headers={"x-request-id": "a-reader"}).json()["history"]
    assert {entry["request_id"] for entry in retried_or_not} == {"trace-in-process"}  # reads stamp nothing


def test_a_worker_on_another_broker_is_named_not_counted(api, container):
    url = container.settings.database.url
    ours = Heartbeat(url, kind="worker", interval_seconds=60, broker_url=container.settings.broker.url)
    stray = Heartbeat(url, kind="worker", interval_seconds=60, broker_url="redis://elsewhere.example:6379/0")
    ours.start()
    stray.start()
    try:
        status = api.get("/status").json()
        assert status["pipeline"]["workers_alive"] == 1
        assert status["pipeline"]["workers_on_another_broker"] == 1
        assert status["status"] == "degraded"
        assert any("on another broker" in problem for problem in status["problems"])
        assert "elsewhere.example" not in str(status)  # the fingerprint, never the URL
    finally:
        ours.stop()
        stray.stop()


def test_the_status_is_fleet_wide_so_a_scoped_key_is_refused(api, container):
    from fastapi.testclient import TestClient

    from app.api.app import create_app
    from tests.api.conftest import make_key

    scoped = make_key(container, role="reader", scopes=("/subscriptions/00000000-0000-0000-0000-000000000001",))
    with TestClient(create_app(container), headers={"Authorization": f"Bearer {scoped}"}) as narrow:
        refused = narrow.get("/status")
        assert refused.status_code == 403
        assert refused.json()["code"] == "outside_scope"
    assert api.get("/status").status_code == 200
