"""Webhook payloads as delivered match their documented models, with absolute links once
``api.public_base_url`` is set: real jobs against the emulator, a real receiver on loopback."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from app.api.app import create_app
from app.webhook.events import EventType
from app.webhook.payloads import EVENT_MODELS, absolute_links
from tests.api.conftest import make_key
from tests.drive import deliver_due, drive
from tests.receiver import running_receiver

BASE = "https://reprotect.example.com/api"


@pytest.fixture
def based_api(container):
    """The API of a deployment whose public address is ``BASE``."""
    api_settings = container.settings.api.model_copy(update={"public_base_url": BASE})
    container.settings = container.settings.model_copy(update={"api": api_settings})
    with TestClient(create_app(container), headers={"Authorization": f"Bearer {make_key(container)}"}) as client:
        yield client


def test_every_delivered_event_matches_its_model_and_links_absolutely(based_api, container, emulator, demo):
    ok, failing = demo["committed"][:2]
    emulator.post(
        "/_emulator/faults/job-failure",
        json={"vm": failing["name"], "task": "ProtectReplicaTask", "code": "151195", "times": 1},
    ).raise_for_status()
    with running_receiver() as receiver:
        created = based_api.post("/webhooks", json={"url": receiver.url, "event_types": [e.value for e in EventType]})
        assert created.status_code == 201, created.text
        accepted = based_api.post("/reprotect", json={"vms": [{"item_id": ok["id"]}, {"item_id": failing["id"]}]})
        assert accepted.status_code == 202, accepted.text
        drive(container)
        deliver_due(container)
        events = [r.json for r in receiver.received]

    # A reprotect request causes every job and request event but a cancellation; campaign events are checked
    # against their models in tests/api/test_campaign_events.py.
    campaign_events = {e.value for e in EventType if e.value.startswith("reprotect.campaign.")}
    assert {e["type"] for e in events} == {e.value for e in EventType} - {EventType.JOB_CANCELLED.value} - (
        campaign_events
    )
    for event in events:
        EVENT_MODELS[event["type"]].model_validate(event)  # raises on any field the model does not describe
    links = [e["data"]["links"] for e in events]
    assert all(link.startswith(f"{BASE}/") for found in links for link in found.values()), links
    completed = next(e for e in events if e["type"] == EventType.REQUEST_COMPLETED.value)
    assert all(job["href"].startswith(f"{BASE}/jobs/") for job in completed["data"]["jobs"])


def test_without_a_public_base_url_links_stay_paths():
    payload = {"type": "t", "data": {"links": {"job": "/jobs/1"}, "jobs": [{"href": "/jobs/1", "vm": "/x"}]}}
    assert absolute_links(payload, None) == payload
    based = absolute_links(payload, "https://h/api/")
    assert based["data"]["links"]["job"] == "https://h/api/jobs/1"
    assert based["data"]["jobs"][0] == {"href": "https://h/api/jobs/1", "vm": "/x"}
