"""``/metrics`` on the in-process API: route templates (never raw paths) and statuses, transitions counted only
once committed, jobs by state read from the database, and who may read them (and the off switch)."""

from __future__ import annotations

import uuid

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from app.api.app import create_app
from app.db import transaction, utcnow
from app.job import history
from app.job.models import Job
from app.job.states import JobState
from app.settings import MetricsSettings
from tests.api.conftest import make_key
from tests.metrics.scrape import parse, value

HTTP_COUNT = "reprotect_http_request_duration_seconds_count"
CANCELS = {"from_state": "accepted", "to_state": "cancelled"}


def _scrape(client: TestClient) -> dict:
    answer = client.get("/metrics")
    assert answer.status_code == 200, answer.text
    assert answer.headers["content-type"].startswith("text/plain")
    return parse(answer.text)


def test_requests_are_counted_by_route_template_and_status(api):
    before = _scrape(api)
    missing = uuid.uuid4()
    assert api.get(f"/jobs/{missing}").status_code == 404
    assert api.get("/no/such/path").status_code == 404
    after = _scrape(api)
    labels = {"method": "GET", "route": "/jobs/{job_id}", "status": "404"}
    assert value(after, HTTP_COUNT, **labels) == value(before, HTTP_COUNT, **labels) + 1
    unmatched = {"method": "GET", "route": "unmatched", "status": "404"}
    assert value(after, HTTP_COUNT, **unmatched) == value(before, HTTP_COUNT, **unmatched) + 1
    assert not any(str(missing) in label_value for _, labels in after for _, label_value in labels)


def _cancel_then_roll_back(container, job_id: uuid.UUID) -> None:
    with transaction(container.sessions) as session:  # rolled back: the move never happened
        job = session.scalars(select(Job).where(Job.id == job_id)).one()
        history.transition(session, job, JobState.CANCELLED, reason="test", now=utcnow())
        raise RuntimeError("roll back")


def test_a_transition_counts_once_committed_and_jobs_by_state_follow_the_database(api, container, demo):
    vm = {"vault_id": demo["vault_id"], "vm_name": demo["committed"][0]["name"]}
    accepted = api.post("/reprotect", json={"vms": [vm]})
    assert accepted.status_code == 202, accepted.text
    job_id = accepted.json()["jobs"][0]["id"]
    before = _scrape(api)
    assert value(before, "reprotect_jobs", state="accepted") == 1

    with pytest.raises(RuntimeError):
        _cancel_then_roll_back(container, uuid.UUID(job_id))
    assert value(_scrape(api), "reprotect_job_transitions_total", **CANCELS) == value(
        before, "reprotect_job_transitions_total", **CANCELS
    )

    assert api.post(f"/jobs/{job_id}/cancel").status_code == 202
    after = _scrape(api)
    assert (
        value(after, "reprotect_job_transitions_total", **CANCELS)
        == value(before, "reprotect_job_transitions_total", **CANCELS) + 1
    )
    in_accepted = "reprotect_job_state_duration_seconds_count"
    assert value(after, in_accepted, state="accepted") == value(before, in_accepted, state="accepted") + 1
    assert value(after, "reprotect_jobs", state="accepted") == 0
    assert value(after, "reprotect_jobs", state="cancelled") == 1


def test_metrics_need_a_reader_of_unrestricted_scope_and_stay_out_of_the_contract(bare_with, container):
    reader = make_key(container, role="reader")
    scoped = make_key(container, role="reader", scopes=("/subscriptions/00000000-0000-0000-0000-000000000001",))
    refused = bare_with.get("/metrics")
    assert refused.status_code == 401
    assert refused.headers["content-type"] == "application/problem+json"
    assert bare_with.get("/metrics", headers={"Authorization": f"Bearer {scoped}"}).status_code == 403
    assert bare_with.get("/metrics", headers={"Authorization": f"Bearer {reader}"}).status_code == 200
    assert "/metrics" not in bare_with.get("/openapi.json").json()["paths"]


def test_public_metrics_ask_no_credentials(container):
    container.settings = container.settings.model_copy(update={"metrics": MetricsSettings(public=True)})
    with TestClient(create_app(container)) as client:
        assert client.get("/metrics").status_code == 200


def test_metrics_can_be_turned_off(container):
    container.settings = container.settings.model_copy(update={"metrics": MetricsSettings(enabled=False)})
    with TestClient(create_app(container)) as client:
        assert client.get("/metrics").status_code == 404
