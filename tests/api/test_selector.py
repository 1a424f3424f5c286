"""Selector-based ``POST /reprotect`` through the HTTP API and the emulator: a selector resolves through the
inventory, splits into requests of 100, reports refusals per VM, and its dry run lists the resolved set."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from app.api.app import create_app
from app.bootstrap import Container
from app.db import transaction
from app.job import service as jobs
from app.job.models import Job
from app.job.states import ACTIVE_STATES
from app.settings import FleetSettings
from tests.api.conftest import make_key
from tests.api.test_inventory import SUBSCRIPTIONS, WEST_VAULT, boxed, fleet_url  # noqa: F401 - the fixture

EAST_ASIA_FLEET = {"source_region": "southeastasia", "target_region": "eastasia"}


@pytest.fixture
def box(database_url, fleet_url) -> Iterator[Container]:  # noqa: F811 - uses the shared emulator fixture
    # One pass of the drive below advances 250 jobs; with the tests' 0.5-s list snapshots most advances would
    # re-list the vault (250 items deserialised by the SDK each time), so the snapshots live about one pass, as
    # production's 30-s snapshots live about one 30-s poll.
    container = boxed(
        database_url,
        fleet_url,
        FleetSettings(discover_in_subscriptions=SUBSCRIPTIONS, max_selector_vms=300),
        snapshot_ttl_seconds=3.0,
    )
    yield container
    container.close()


@pytest.fixture
def api(box) -> Iterator[TestClient]:
    with TestClient(create_app(box), headers={"Authorization": f"Bearer {make_key(box)}"}) as client:
        yield client


def test_a_dry_run_lists_the_resolved_set_and_submits_nothing(api, box):
    planned = api.post("/reprotect", params={"dry_run": "true"}, json={"selector": EAST_ASIA_FLEET})
    assert planned.status_code == 200, planned.text
    body = planned.json()
    assert (body["dry_run"], body["matched"], body["requests"]) == (True, 250, [])
    assert len({vm["item_id"] for vm in body["vms"]}) == 250
    assert {vm["reprotect_status"] for vm in body["vms"]} == {"needs_reprotect"}
    with transaction(box.sessions) as session:
        assert session.scalar(select(func.count()).select_from(Job)) == 0


# Driving 250 jobs home takes 34 s alone on Postgres but 165-243 s in CI beside the fault trials: the deadline
# only guards against a hang, so it is generous (tests check behaviour, never timings).
@pytest.mark.timeout(900)
def test_a_selector_of_250_vms_becomes_three_requests_of_at_most_100(api, box):
    answer = api.post("/reprotect", json={"selector": EAST_ASIA_FLEET})
    assert answer.status_code == 202, answer.text
    body = answer.json()
    assert body["matched"] == len({vm["item_id"] for vm in body["vms"]}) == 250
    assert sorted(r["vm_count"] for r in body["requests"]) == [50, 100, 100]
    assert body["refused"] == []
    for created in body["requests"]:
        request = api.get(created["href"]).json()
        assert request["vm_count"] == created["vm_count"]
    # Asked again: nothing needs reprotect any more (every VM has an active job), so nothing new is created.
    again = api.post("/reprotect", json={"selector": EAST_ASIA_FLEET})
    assert (again.status_code, again.json()["matched"], again.json()["requests"]) == (200, 0, [])
    assert api.get("/vms/summary", params=EAST_ASIA_FLEET).json()["counts"]["in_progress"] == 250
    with transaction(box.sessions) as session:
        per_request = dict(session.execute(select(Job.request_id, func.count()).group_by(Job.request_id)).all())
    assert {str(k): v for k, v in per_request.items()} == {r["request_id"]: r["vm_count"] for r in body["requests"]}
    # Every job of the three requests is driven to protected by the worker's own use case (what the Celery task
    # calls), against the emulator through the SDK: the proof that a selector's requests all complete.
    owner = {job["id"]: created["request_id"] for created in body["requests"] for job in _jobs_of(api, created)}
    assert len(owner) == 250
    _drive_only(box, {uuid.UUID(job_id) for job_id in owner}, timeout=720.0)
    for created in body["requests"]:
        request = api.get(created["href"]).json()
        assert request["counts"]["protected"] == created["vm_count"], request["counts"]
        assert {job["request_id"] for job in request["jobs"]} == {created["request_id"]}
    assert api.get("/vms/summary", params=EAST_ASIA_FLEET).json()["counts"]["protected"] == 250


def _jobs_of(api: TestClient, created: dict[str, Any]) -> list[dict[str, Any]]:
    """The jobs of one created request, as its own page lists them."""
    request = api.get(created["href"]).json()
    assert request["vm_count"] == created["vm_count"] == len(request["jobs"])
    return list(request["jobs"])


def _drive_only(box: Container, ids: set[uuid.UUID], timeout: float = 60.0) -> None:
    """Run the worker's ``advance`` (what the Celery task calls) on these jobs only, until none is active."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for job_id in sorted(ids):
            jobs.advance(box, job_id=job_id, worker="test-worker")
        with transaction(box.sessions) as session:
            states = set(session.scalars(select(Job.state).where(Job.id.in_(ids))))
        if not states & {s.value for s in ACTIVE_STATES}:
            return
        time.sleep(0.05)
    raise AssertionError(f"jobs still active after {timeout}s: {sorted(states)}")


def test_refused_vms_are_reported_and_the_rest_of_their_batch_is_submitted(api):
    answer = api.post("/reprotect", json={"selector": {"vault_ids": [WEST_VAULT], "status": "not_eligible"}})
    assert answer.status_code == 200, answer.text  # every matched VM refused: no request created
    body = answer.json()
    assert body["matched"] == 2
    assert sorted(r["code"] for r in body["refused"]) == ["failover_not_committed", "source_vm_deleted"]
    mixed = api.post(
        "/reprotect",
        json={"selector": {"vault_ids": [WEST_VAULT], "name_prefix": "west-0", "status": "needs_reprotect"}},
    )
    assert mixed.status_code == 202, mixed.text
    assert [r["vm_count"] for r in mixed.json()["requests"]] == [2]


def test_selector_input_is_checked(api, box):
    for body in (
        {"selector": {"colour": "red"}},
        {"selector": {"status": "sleeping"}},
        {
            "selector": {},
            "vms": [
                {
                    "item_id": WEST_VAULT
                    + "/replicationFabrics/f/replicationProtectionContainers/c/replicationProtectedItems/i"
                }
            ],
        },
        {"selector": {"vault_ids": []}},
    ):
        answer = api.post("/reprotect", json=body)
        assert answer.status_code == 422, body
        assert answer.json()["code"] == "validation_failed"
    box.settings.fleet.max_selector_vms = 10
    broad = api.post("/reprotect", json={"selector": EAST_ASIA_FLEET})
    assert (broad.status_code, broad.json()["code"]) == (422, "selector_too_broad")


def test_the_same_idempotency_key_replays_a_selectors_answer(api, box):
    west = {"selector": {"vault_ids": [WEST_VAULT]}}
    first = api.post("/reprotect", json=west, headers={"Idempotency-Key": "west-1"})
    assert first.status_code == 202, first.text
    again = api.post("/reprotect", json=west, headers={"Idempotency-Key": "west-1"})
    assert (again.status_code, again.headers.get("Idempotent-Replayed")) == (202, "true")
    assert again.json() == first.json()
    other = api.post("/reprotect", json={"selector": {"name_prefix": "west"}}, headers={"Idempotency-Key": "west-1"})
    assert (other.status_code, other.json()["code"]) == (422, "idempotency_key_reused")
    with transaction(box.sessions) as session:
        assert session.scalar(select(func.count()).select_from(Job)) == 2  # west-04 and west-05, once
