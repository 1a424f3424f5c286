"""The read path dashboards poll: unknown query parameters refused on every route, compact lists and the
full view, the single-job document, the new filters, the summaries and their terminal counts."""

from __future__ import annotations

import base64
import json
import os
import subprocess
import sys
import uuid

from fastapi.routing import APIRoute
from sqlalchemy import delete, select

from app.api.app import create_app
from app.db import transaction, utcnow
from app.job import history, present, summary
from app.job.models import Job, JobTerminalCount, ReprotectRequest
from app.job.schemas import JobOut, JobSummary
from app.job.states import JobState
from tests.api.conftest import make_key
from tests.conftest import ROOT
from tests.drive import drive


def _routes(routes):
    """Every API route, through the routers FastAPI includes lazily."""
    for route in routes:
        if isinstance(route, APIRoute):
            yield route
        elif hasattr(route, "original_router"):
            yield from _routes(route.original_router.routes)


def _accept(api, items):
    answer = api.post("/reprotect", json={"vms": [{"item_id": i["id"]} for i in items]})
    assert answer.status_code == 202, answer.text
    return answer.json()


def _fail(container, job_id: str, code: str) -> None:
    """Fail a job the way a step does: through the one transition function."""
    with transaction(container.sessions) as session:
        job = session.get(Job, uuid.UUID(job_id))
        job.error_code, job.error_message, job.failed_in = code, "failed in Azure", job.state
        history.transition(session, job, JobState.FAILED, reason="test failure", now=utcnow())


def test_unknown_query_parameters_are_422_problems_on_every_route(api):
    routes = list(_routes(api.app.routes))
    assert len(routes) >= 10
    for route in routes:
        path = route.path
        for name in route.param_convertors:
            path = path.replace("{" + name + "}", str(uuid.uuid4()))
        for method in route.methods:
            answer = api.request(method, path, params={"location": "eastasia"})
            assert answer.status_code == 422, (method, route.path, answer.status_code, answer.text)
            problem = answer.json()
            assert answer.headers["content-type"] == "application/problem+json"
            assert problem["code"] == "validation_failed"
            assert problem["errors"][0]["location"] == ["query", "location"], problem


def test_a_nul_in_any_text_filter_is_a_422_problem_on_every_backend(api):
    for path, name in (("/jobs", "error_code"), ("/jobs", "vault_id"), ("/jobs", "vm"), ("/jobs/summary", "vault_id")):
        answer = api.get(path, params={name: "a\x00b"})
        assert answer.status_code == 422, (path, name, answer.text)
        assert answer.json()["errors"][0]["location"] == ["query", name]


def test_declared_query_parameters_still_pass_and_unknown_ones_are_named(api):
    assert api.get("/jobs", params={"limit": 5, "view": "compact"}).status_code == 200
    refused = api.get("/jobs", params={"limit": 5, "locaton": "x", "vault": "y"}).json()
    assert [e["location"] for e in refused["errors"]] == [["query", "locaton"], ["query", "vault"]]


def test_lists_are_compact_unless_the_full_view_is_asked(api, container, demo):
    accepted = _accept(api, demo["committed"][:2])
    drive(container)
    compact = api.get("/jobs").json()["items"]
    assert len(compact) == 2
    for item in compact:
        assert "history" not in item
        assert "plan" not in item
        assert "steps" not in item
        assert item["state"] == "protected"
        assert item["terminal"] is True
    full = api.get("/jobs", params={"view": "full"}).json()["items"]
    for item in full:
        single = api.get(f"/jobs/{item['id']}").json()
        assert item["history"] == single["history"]
        assert item["steps"] == single["steps"]
        assert item["plan"] == single["plan"]
        assert item["plan"]
    assert {j["id"] for j in full} == {j["id"] for j in accepted["jobs"]}


def test_the_job_document_is_the_model_serialised(api, container, demo):
    job_id = _accept(api, demo["committed"][:1])["jobs"][0]["id"]
    drive(container)
    answer = api.get(f"/jobs/{job_id}")
    assert answer.headers["content-type"] == "application/json"
    with transaction(container.sessions) as session:
        model = present.job_out(session.get(Job, uuid.UUID(job_id))).model_dump(mode="json")
        etag = present.etag_of(session.get(Job, uuid.UUID(job_id)))
    assert answer.json() == model
    assert JobOut.model_validate_json(answer.content).history
    assert answer.headers["ETag"] == etag
    assert api.get(f"/jobs/{job_id}", headers={"If-None-Match": f'"x", {etag}'}).status_code == 304


def test_error_code_and_subscription_filters(api, container, demo):
    jobs = _accept(api, demo["committed"][:3])["jobs"]
    _fail(container, jobs[0]["id"], "151195")
    failed = api.get("/jobs", params={"error_code": "151195"}).json()["items"]
    assert [j["id"] for j in failed] == [jobs[0]["id"]]
    assert failed[0]["error"]["code"] == "151195"
    assert api.get("/jobs", params={"error_code": "151083"}).json()["items"] == []
    subscription = failed[0]["subscription_id"]
    same = api.get("/jobs", params={"subscription_id": subscription.upper()}).json()["items"]
    assert len(same) == 3
    assert api.get("/jobs", params={"subscription_id": str(uuid.uuid4())}).json()["items"] == []


def test_summary_counts_eta_and_failures_in_scope(api, bare_with, container, demo):
    first = _accept(api, demo["committed"][:2])
    second = _accept(api, demo["committed"][2:4])
    _fail(container, first["jobs"][0]["id"], "151195")
    answer = api.get("/jobs/summary")
    whole = answer.json()
    assert set(whole) == set(JobSummary.model_fields)  # rendered without the model: held to it here
    assert JobSummary.model_validate_json(answer.content).total == whole["total"]
    assert whole["total"] == 4
    assert whole["in_flight"] == 3
    assert whole["groups"][0]["counts"]["failed"] == 1
    assert whole["groups"][0]["counts"]["accepted"] == 3
    assert whole["top_failures"] == [{"code": "151195", "count": 1}]
    by_vault = api.get("/jobs/summary", params={"group_by": "vault"}).json()["groups"]
    assert [(g["key"], g["total"]) for g in by_vault] == [(demo["vault_id"].lower(), 4)]
    by_request = api.get(
        "/jobs/summary", params={"group_by": "request", "request_id": [first["request_id"], second["request_id"]]}
    ).json()
    assert {g["key"]: g["total"] for g in by_request["groups"]} == {first["request_id"]: 2, second["request_id"]: 2}
    assert by_request["top_failures"] == [{"code": "151195", "count": 1}]
    recent = api.get("/jobs/summary", params={"group_by": "request"}).json()["groups"]
    assert {g["key"] for g in recent} == {first["request_id"], second["request_id"]}
    elsewhere = make_key(container, role="reader", scopes=(f"/subscriptions/{uuid.uuid4()}",))
    outside = bare_with.get("/jobs/summary", headers={"Authorization": f"Bearer {elsewhere}"}).json()
    assert outside["total"] == 0
    assert outside["top_failures"] == []
    assert outside["eta"] is None


def test_recent_requests_by_request_are_the_newest_the_caller_can_see(api, bare_with, container, demo, monkeypatch):
    mine = _accept(api, demo["committed"][:1])
    with transaction(container.sessions) as session:  # someone else's newer request, none of its jobs visible here
        session.add(ReprotectRequest(vm_count=1, requested_by="another team"))
    monkeypatch.setattr(summary, "RECENT_REQUESTS", 1)
    reader = make_key(container, role="reader", scopes=(demo["vault_id"],))
    groups = bare_with.get(
        "/jobs/summary", params={"group_by": "request"}, headers={"Authorization": f"Bearer {reader}"}
    ).json()["groups"]
    assert [(g["key"], g["total"]) for g in groups] == [(mine["request_id"], 1)]


def test_terminal_counts_follow_transitions_and_a_retry(api, container, demo):
    jobs = _accept(api, demo["committed"][:2])["jobs"]
    _fail(container, jobs[0]["id"], "151195")

    def counted() -> dict[str, int]:
        with transaction(container.sessions) as session:
            return {row.state: row.count for row in session.scalars(select(JobTerminalCount))}

    assert counted() == {"failed": 1}
    assert api.post(f"/jobs/{jobs[0]['id']}/retry").status_code == 202
    drive(container)
    assert counted() == {"failed": 0, "protected": 2}
    assert api.get("/jobs/summary").json()["groups"][0]["counts"]["protected"] == 2


def test_reprotect_recount_rebuilds_counts_a_worker_of_an_older_release_left_behind(api, container, demo):
    _accept(api, demo["committed"][:2])
    drive(container)
    with transaction(container.sessions) as session:  # as if an old worker had finished them: no counter moved
        session.execute(delete(JobTerminalCount))
    assert api.get("/jobs/summary").json()["groups"][0]["counts"]["protected"] == 0
    env = {**os.environ, "REPROTECT_DATABASE__URL": container.settings.database.url}
    run = subprocess.run([sys.executable, "-m", "cli", "recount"], cwd=ROOT, env=env, capture_output=True, text=True)
    assert run.returncode == 0, run.stderr[-2000:]
    assert api.get("/jobs/summary").json()["groups"][0]["counts"]["protected"] == 2


def test_a_cursor_with_an_out_of_range_id_is_a_422_problem(api):
    for row_id in (str(2**40), str(-(2**63) - 1)):
        cursor = base64.urlsafe_b64encode(json.dumps(["2026-01-01T00:00:00+00:00", row_id]).encode()).decode()
        answer = api.get("/audit", params={"cursor": cursor.rstrip("=")})
        assert answer.status_code == 422, answer.text
        assert answer.json()["code"] == "invalid_cursor"


def test_without_redis_a_revoked_key_is_refused_by_another_app_at_once(container):
    key = make_key(container, role="admin")
    key_id = key.split("_")[1]
    headers = {"Authorization": f"Bearer {key}"}
    from fastapi.testclient import TestClient

    with TestClient(create_app(container)) as one, TestClient(create_app(container)) as other:
        assert other.get("/jobs", headers=headers).status_code == 200
        assert one.delete(f"/api-keys/{key_id}", headers=headers).status_code == 204
        assert other.get("/jobs", headers=headers).status_code == 401
