"""Completion webhooks end to end: real jobs against the emulator, a real receiver on loopback, every
delivery verified with the reference ``standardwebhooks`` library."""

from __future__ import annotations

import uuid
from collections import Counter

import pytest
from sqlalchemy import select
from standardwebhooks.webhooks import Webhook, WebhookVerificationError

from app.bootstrap import bootstrap, build_sender
from app.db import transaction
from app.webhook.models import WebhookEvent
from tests.drive import deliver_due, drive
from tests.receiver import running_receiver

TERMINAL_TYPES = {"reprotect.job.succeeded", "reprotect.job.failed", "reprotect.job.cancelled"}


@pytest.fixture
def receiver():
    with running_receiver() as r:
        yield r


def _register(api, url, **extra):
    created = api.post("/webhooks", json={"url": url, **extra})
    assert created.status_code == 201, created.text
    return created.json()


def _verified(receiver, secret):
    """Every received body, verified with the reference library (raises if any signature is wrong)."""
    hook = Webhook(secret)
    return [hook.verify(r.body, r.headers) for r in receiver.received]


def _vm(item):
    return {"item_id": item["id"]}


def test_each_way_a_job_ends_produces_exactly_one_event_of_its_type(api, container, emulator, demo, receiver):
    endpoint = _register(api, receiver.url)
    assert endpoint["secret"].startswith("whsec_")
    ok, failing, cancelled = demo["committed"][:3]
    emulator.post(
        "/_emulator/faults/job-failure",
        json={"vm": failing["name"], "task": "ProtectReplicaTask", "code": "151195", "times": 1},
    ).raise_for_status()
    accepted = api.post("/reprotect", json={"vms": [_vm(ok), _vm(failing), _vm(cancelled)]}).json()
    jobs = {j["vm"]: j["id"] for j in accepted["jobs"]}
    assert api.post(f"/jobs/{jobs[cancelled['name']]}/cancel").json()["state"] == "cancelled"
    drive(container)
    deliver_due(container)

    events = _verified(receiver, endpoint["secret"])
    by_job = Counter((e["data"].get("job_id"), e["type"]) for e in events if e["type"] in TERMINAL_TYPES)
    assert by_job == Counter(
        {
            (jobs[ok["name"]], "reprotect.job.succeeded"): 1,
            (jobs[failing["name"]], "reprotect.job.failed"): 1,
            (jobs[cancelled["name"]], "reprotect.job.cancelled"): 1,
        }
    )
    failed = next(e for e in events if e["type"] == "reprotect.job.failed")["data"]
    assert failed["error"]["code"] == "151195"
    assert failed["error"]["message"]
    succeeded = next(e for e in events if e["type"] == "reprotect.job.succeeded")
    assert succeeded["data"]["state"] == "protected"
    assert succeeded["data"]["new_item_id"]
    assert succeeded["data"]["links"]["job"] == f"/jobs/{jobs[ok['name']]}"
    assert succeeded["data"]["request_id"] == accepted["request_id"]
    assert succeeded["data"]["duration_seconds"] > 0
    assert succeeded["timestamp"].endswith("Z")
    completed = [e for e in events if e["type"] == "reprotect.request.completed"]
    assert len(completed) == 1
    assert completed[0]["data"]["counts"] == {"protected": 1, "failed": 1, "cancelled": 1}
    # One webhook-id per event, and every header names it.
    ids = [r.headers["webhook-id"] for r in receiver.received]
    assert len(ids) == len(set(ids)) == 4
    assert all(i.startswith("msg_") for i in ids)


def test_state_changes_are_only_sent_to_endpoints_that_ask_for_them(api, container, demo, receiver):
    with running_receiver() as quiet:
        chatty = _register(api, receiver.url, event_types=["reprotect.job.state_changed"])
        _register(api, quiet.url)
        api.post("/reprotect", json={"vms": [_vm(demo["committed"][0])]}).raise_for_status()
        drive(container)
        deliver_due(container)
        states = [e["data"]["state"] for e in _verified(receiver, chatty["secret"])]
        assert states == ["validating", "submitting", "reprotecting", "syncing", "protected"]
        assert {e["type"] for e in quiet.events()} == {"reprotect.job.succeeded", "reprotect.request.completed"}


def test_a_callback_url_gets_the_request_events_signed_with_its_own_secret(api, container, demo, receiver):
    accepted = api.post("/reprotect", json={"vms": [_vm(demo["committed"][0])], "callback_url": receiver.url})
    assert accepted.status_code == 202, accepted.text
    secret = accepted.json()["callback_secret"]
    assert secret.startswith("whsec_")
    drive(container)
    deliver_due(container)
    types = [e["type"] for e in _verified(receiver, secret)]
    assert types == ["reprotect.job.succeeded", "reprotect.request.completed"]
    assert "callback_secret" not in api.get(accepted.headers["Location"]).text


def test_a_failing_receiver_gets_the_same_webhook_id_again_until_it_answers_2xx(api, container, demo, receiver):
    endpoint = _register(api, receiver.url, event_types=["reprotect.job.succeeded"])
    receiver.answer(500, 503)
    api.post("/reprotect", json={"vms": [_vm(demo["committed"][0])]}).raise_for_status()
    drive(container)
    deliver_due(container)

    assert len(receiver.received) == 3
    assert len({r.headers["webhook-id"] for r in receiver.received}) == 1
    assert len(_verified(receiver, endpoint["secret"])) == 3
    [delivery] = api.get("/webhook-deliveries", params={"endpoint_id": endpoint["id"]}).json()["items"]
    assert delivery["status"] == "delivered"
    assert [a["status_code"] for a in delivery["attempt_log"]] == [500, 503, 200]
    assert all(a["duration_ms"] >= 0 for a in delivery["attempt_log"])
    assert delivery["attempt_log"][-1]["response_excerpt"] == "ok"


def test_410_gone_disables_the_endpoint_and_stops_its_deliveries(api, container, demo, receiver):
    endpoint = _register(api, receiver.url)
    receiver.answer(410)
    api.post("/reprotect", json={"vms": [_vm(demo["committed"][0])]}).raise_for_status()
    drive(container)
    deliver_due(container)

    assert len(receiver.received) == 1  # the request.completed delivery was cancelled with the endpoint
    shown = api.get(f"/webhooks/{endpoint['id']}").json()
    assert shown["enabled"] is False
    assert "410" in shown["disabled_reason"]
    statuses = Counter(d["status"] for d in api.get("/webhook-deliveries").json()["items"])
    assert statuses == Counter({"failed": 1, "cancelled": 1})
    # Redelivery waits for the operator to enable the endpoint again.
    failed = api.get("/webhook-deliveries", params={"status": "failed"}).json()["items"][0]
    assert api.post(f"/webhook-deliveries/{failed['id']}/redeliver").json()["code"] == "webhook_disabled"
    assert api.patch(f"/webhooks/{endpoint['id']}", json={"enabled": True}).json()["enabled"] is True
    again = api.post(f"/webhook-deliveries/{failed['id']}/redeliver")
    assert again.status_code == 202
    deliver_due(container)
    assert receiver.received[-1].headers["webhook-id"] == failed["event_id"]
    assert api.get(f"/webhook-deliveries/{again.json()['id']}").json()["status"] == "delivered"


def test_redelivery_sends_the_same_webhook_id_as_a_new_delivery(api, container, demo, receiver):
    endpoint = _register(api, receiver.url, event_types=["reprotect.job.succeeded"])
    api.post("/reprotect", json={"vms": [_vm(demo["committed"][0])]}).raise_for_status()
    drive(container)
    deliver_due(container)
    [first] = api.get("/webhook-deliveries").json()["items"]
    redelivered = api.post(f"/webhook-deliveries/{first['id']}/redeliver").json()
    assert redelivered["redelivery_of"] == first["id"]
    assert redelivered["event_id"] == first["event_id"]
    deliver_due(container)
    assert [r.headers["webhook-id"] for r in receiver.received] == [first["event_id"]] * 2
    assert len(_verified(receiver, endpoint["secret"])) == 2
    assert api.post(f"/webhook-deliveries/{uuid.uuid4()}/redeliver").status_code == 404


def test_during_rotation_both_secrets_sign_then_only_the_new_one(api, container, demo, receiver):
    endpoint = _register(api, receiver.url, event_types=["reprotect.job.succeeded"])
    rotated = api.post(f"/webhooks/{endpoint['id']}/rotate-secret", json={"grace_seconds": 3600}).json()
    assert rotated["secret"] != endpoint["secret"]
    assert rotated["previous_secret_expires_at"]
    api.post("/reprotect", json={"vms": [_vm(demo["committed"][0])]}).raise_for_status()
    drive(container)
    deliver_due(container)
    assert len(_verified(receiver, endpoint["secret"])) == 1
    assert len(_verified(receiver, rotated["secret"])) == 1
    assert len(receiver.received[0].headers["webhook-signature"].split(" ")) == 2

    api.post(f"/webhooks/{endpoint['id']}/rotate-secret", json={"grace_seconds": 0}).raise_for_status()
    [delivery] = api.get("/webhook-deliveries").json()["items"]
    api.post(f"/webhook-deliveries/{delivery['id']}/redeliver").raise_for_status()
    deliver_due(container)
    with pytest.raises(WebhookVerificationError):
        Webhook(rotated["secret"]).verify(receiver.received[-1].body, receiver.received[-1].headers)


def test_secrets_are_shown_once_and_never_again(api, receiver):
    endpoint = _register(api, receiver.url)
    for answer in (api.get(f"/webhooks/{endpoint['id']}"), api.get("/webhooks")):
        assert answer.status_code == 200
        assert endpoint["secret"] not in answer.text
        assert 'secret"' not in answer.text.replace("previous_secret_expires_at", "")
    assert api.delete(f"/webhooks/{endpoint['id']}").status_code == 204
    assert api.get(f"/webhooks/{endpoint['id']}").status_code == 404
    assert api.get("/webhooks").json()["items"] == []


def test_events_written_before_a_restart_are_delivered_after_it(api, container, demo, receiver, database_url):
    endpoint = _register(api, receiver.url)
    api.post("/reprotect", json={"vms": [_vm(demo["committed"][0])]}).raise_for_status()
    drive(container)  # the job ends and its events are committed ...
    assert receiver.received == []  # ... but no worker delivered them before the "restart"
    container.close()

    restarted = bootstrap(container.settings)
    try:
        deliver_due(restarted)
        with transaction(restarted.sessions) as session:
            assert len(session.scalars(select(WebhookEvent)).all()) == 2
    finally:
        restarted.close()
    assert {e["type"] for e in _verified(receiver, endpoint["secret"])} == {
        "reprotect.job.succeeded",
        "reprotect.request.completed",
    }


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        ("https://10.1.2.3/hook", "address_not_allowed"),
        ("https://192.168.0.10/hook", "address_not_allowed"),
        ("https://169.254.169.254/metadata/instance", "address_not_allowed"),
        ("https://168.63.129.16/machine", "address_not_allowed"),
        ("https://[::1]/hook", "address_not_allowed"),
        ("https://[::ffff:169.254.169.254]/hook", "address_not_allowed"),
        ("https://[fd00::1]/hook", "address_not_allowed"),
        ("https://2130706433/hook", "address_not_allowed"),
        ("https://localhost/hook", "address_not_allowed"),
        ("http://93.184.215.14/hook", "scheme_not_allowed"),
        ("ftp://example.com/hook", "scheme_not_allowed"),
        ("https://user:pw@93.184.215.14/hook", "credentials_in_url"),
    ],
)
def test_urls_pointing_inward_are_refused_at_registration(api, container, demo, url, reason):
    container.settings.webhook.allow_http = False
    container.settings.webhook.allowed_networks = []
    refused = api.post("/webhooks", json={"url": url})
    assert refused.status_code == 422, refused.text
    assert refused.headers["content-type"] == "application/problem+json"
    assert refused.json()["code"] == "webhook_url_refused"
    assert refused.json()["details"]["reason"] == reason
    as_callback = api.post("/reprotect", json={"vms": [_vm(demo["committed"][0])], "callback_url": url})
    assert as_callback.status_code == 422
    assert as_callback.json()["details"] == {"reason": reason, "field": "callback_url"}
    assert api.get("/jobs").json()["items"] == []
    assert api.get("/webhooks").json()["items"] == []


def test_an_address_refused_at_delivery_time_is_a_recorded_failure(api, container, demo, receiver):
    endpoint = _register(api, receiver.url, event_types=["reprotect.job.succeeded"])
    container.settings.webhook.allowed_networks = []  # the name now resolves somewhere it may not go
    container.sender.close()
    container.sender = build_sender(container.settings.webhook)
    api.post("/reprotect", json={"vms": [_vm(demo["committed"][0])]}).raise_for_status()
    drive(container)
    deliver_due(container, until=2)
    assert receiver.received == []
    [delivery] = api.get("/webhook-deliveries", params={"endpoint_id": endpoint["id"]}).json()["items"]
    assert delivery["attempt_log"][0]["error_code"] == "address_not_allowed"
    assert delivery["attempt_log"][0]["status_code"] is None


def test_redirects_are_never_followed(api, container, demo, receiver):
    _register(api, receiver.url, event_types=["reprotect.job.succeeded"])
    receiver.answer((302, {"Location": "http://169.254.169.254/latest/meta-data/"}), 200)
    api.post("/reprotect", json={"vms": [_vm(demo["committed"][0])]}).raise_for_status()
    drive(container)
    deliver_due(container)
    [delivery] = api.get("/webhook-deliveries").json()["items"]
    assert [a["status_code"] for a in delivery["attempt_log"]] == [302, 200]
    assert len(receiver.received) == 2
    assert {r.path for r in receiver.received} == {"/hooks"}
