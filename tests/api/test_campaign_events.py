"""A campaign's webhook events as delivered: one per step completed, per gate decision, and at its end, signed
(verified with the reference ``standardwebhooks`` library), matching their documented models, and only to
receivers whose scopes cover the campaign's vaults."""

from __future__ import annotations

import uuid

from fastapi.testclient import TestClient
from standardwebhooks.webhooks import Webhook

from app.api.app import create_app
from app.webhook.payloads import EVENT_MODELS
from tests.api.conftest import make_key
from tests.drive import deliver_due, drive_campaign
from tests.receiver import running_receiver

CAMPAIGN_EVENTS = [
    "reprotect.campaign.step_completed",
    "reprotect.campaign.gate",
    "reprotect.campaign.completed",
    "reprotect.campaign.stopped",
    "reprotect.campaign.aborted",
]


def test_a_campaign_announces_each_step_each_gate_and_its_end_to_the_receivers_that_may_see_it(api, container, demo):
    item = demo["committed"][0]
    elsewhere = demo["vault_id"].rsplit("/", 1)[0] + "/another-vault"
    with running_receiver() as receiver, running_receiver() as outsider, running_receiver() as application:
        endpoint = api.post("/webhooks", json={"url": receiver.url, "event_types": CAMPAIGN_EVENTS}).json()
        other_team = {"Authorization": f"Bearer {make_key(container, scopes=(elsewhere,), name='other team')}"}
        with TestClient(create_app(container), headers=other_team) as theirs:  # its endpoint gets their scopes
            outside = theirs.post("/webhooks", json={"url": outsider.url, "event_types": CAMPAIGN_EVENTS})
            assert outside.status_code == 201, outside.text
        body = {
            "name": "one VM home",
            "vms": [{"vault_id": demo["vault_id"], "vm_name": item["vm_name"]}],
            "test_networks": {"East Asia": demo["test_network"]},
            "drill_approval": "auto",
            "wave_gates": {"1": {"health_checks": [{"url": application.url}]}},
        }
        created = api.post("/campaigns", json=body)
        assert created.status_code == 201, created.text
        campaign_id = created.json()["id"]
        assert drive_campaign(container, uuid.UUID(campaign_id), until={"completed", "stopped"}) == "completed"
        deliver_due(container)
        hook = Webhook(endpoint["secret"])
        events = [hook.verify(r.body, r.headers) for r in receiver.received]  # raises on a bad signature

    for event in events:
        EVENT_MODELS[event["type"]].model_validate(event)
    seen = [
        (e["type"].rsplit(".", 1)[1], (e["data"]["step"] or {}).get("phase"), (e["data"]["step"] or {}).get("wave"))
        for e in events
    ]
    assert seen == [
        ("step_completed", "reprotect", None),
        ("step_completed", "drill", None),
        ("gate", "drill", None),
        ("step_completed", "drill_cleanup", None),
        ("step_completed", "failover", 1),
        ("gate", "failover", 1),
        ("step_completed", "commit", None),
        ("step_completed", "reprotect_back", None),
        ("completed", None, None),
    ]
    gates = [e["data"]["step"]["gate"] for e in events if e["type"] == "reprotect.campaign.gate"]
    assert [(g["kind"], g["state"]) for g in gates] == [("auto", "passed"), ("http", "passed")]
    assert gates[1]["results"][0]["status"] == 200
    assert {e["data"]["campaign_id"] for e in events} == {campaign_id}
    assert events[-1]["data"]["links"]["campaign"] == f"/campaigns/{campaign_id}"
    assert outsider.received == []  # its scopes do not cover the campaign's vault


def test_a_waiting_gate_and_an_abort_are_announced_and_kept_in_the_campaigns_history(api, container, demo):
    item = demo["committed"][0]
    with running_receiver() as receiver:
        endpoint = api.post("/webhooks", json={"url": receiver.url, "event_types": CAMPAIGN_EVENTS}).json()
        body = {
            "name": "stopped at the gate",
            "vms": [{"vault_id": demo["vault_id"], "vm_name": item["vm_name"]}],
            "test_networks": {"eastasia": demo["test_network"]},
        }
        campaign_id = uuid.UUID(api.post("/campaigns", json=body).json()["id"])
        assert drive_campaign(container, campaign_id, until={"waiting_gate"}) == "waiting_gate"
        api.post(f"/campaigns/{campaign_id}/abort", json={"reason": "not today"}).raise_for_status()
        assert drive_campaign(container, campaign_id, until={"aborted"}) == "aborted"
        deliver_due(container)
        hook = Webhook(endpoint["secret"])
        events = [hook.verify(r.body, r.headers) for r in receiver.received]

    for event in events:
        EVENT_MODELS[event["type"]].model_validate(event)
    kinds = [(e["type"].rsplit(".", 1)[1], e["data"]["state"]) for e in events]
    assert kinds == [
        ("step_completed", "running"),  # reprotect
        ("step_completed", "running"),  # drill
        ("gate", "waiting_gate"),
        ("step_completed", "aborting"),  # the drill's cleanup, run because of the abort
        ("aborted", "aborted"),
    ]
    assert events[2]["data"]["step"]["gate"] == {
        "kind": "manual",
        "state": "pending",
        "results": [],
        "decided_by": None,
        "reason": None,
    }
    assert "not today" in events[-1]["data"]["stop_reason"]
    history = api.get(f"/campaigns/{campaign_id}").json()["history"]
    assert [(h["from_state"], h["to_state"]) for h in history] == [
        (None, "running"),
        ("running", "waiting_gate"),
        ("waiting_gate", "aborting"),
        ("aborting", "aborted"),
    ]
    assert history[2]["reason"].endswith("not today")
