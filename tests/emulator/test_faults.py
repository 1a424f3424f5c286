"""Throttling (ARM token buckets, 429 + Retry-After) and injected transient errors and latency, as the
SDK sees them with and without its own retry policy."""

from __future__ import annotations

import time

import pytest
from azure.core.exceptions import HttpResponseError
from azure.core.rest import HttpRequest

from tests.emulator.support import arm_get


def test_reads_over_the_bucket_get_429_with_retry_after_and_the_remaining_header(client, demo, admin):
    admin.put("/_emulator/throttle", json={"reads": {"burst": 3, "per_second": 0.2}}).raise_for_status()
    answers = [arm_get(client, demo.group_id("contoso-web-rg")) for _ in range(4)]
    assert [a.status_code for a in answers] == [200, 200, 200, 429]
    assert [int(a.headers["x-ms-ratelimit-remaining-subscription-reads"]) for a in answers[:3]] == [2, 1, 0]
    throttled = answers[3]
    assert int(throttled.headers["Retry-After"]) >= 1
    assert throttled.json()["error"]["code"] == "SubscriptionRequestsThrottled"
    assert admin.get("/_emulator/stats").json()["throttled"] == 1


def test_the_sdk_without_retries_raises_429_and_with_its_default_retries_gets_through(make_client, demo, admin):
    admin.put("/_emulator/throttle", json={"reads": {"burst": 1, "per_second": 1}}).raise_for_status()
    bare = make_client()
    bare.replication_fabrics.get(demo.rg, demo.vault, demo.ea_fabric)
    with pytest.raises(HttpResponseError) as caught:
        bare.replication_fabrics.get(demo.rg, demo.vault, demo.ea_fabric)
    assert caught.value.status_code == 429
    assert caught.value.error.code == "SubscriptionRequestsThrottled"
    patient = make_client(retry_total=3)
    started = time.monotonic()
    fabric = patient.replication_fabrics.get(demo.rg, demo.vault, demo.ea_fabric)
    assert fabric.name == demo.ea_fabric
    assert time.monotonic() - started >= 0.5  # it waited for Retry-After


def test_writes_have_their_own_bucket(client, demo, admin):
    admin.put("/_emulator/throttle", json={"writes": {"burst": 1, "per_second": 0.1}}).raise_for_status()
    path = f"{demo.vault_id}/replicationJobs/nope/cancel"
    first = client.send_request(HttpRequest("POST", path, params={"api-version": "2025-08-01"}))
    second = client.send_request(HttpRequest("POST", path, params={"api-version": "2025-08-01"}))
    assert first.status_code == 404
    assert second.status_code == 429
    assert second.headers["x-ms-ratelimit-remaining-subscription-writes"] == "0"
    assert arm_get(client, demo.group_id("contoso-web-rg")).status_code == 200


def test_transient_503s_carry_an_arm_error_and_retry_after_and_only_hit_chosen_methods(client, demo, admin):
    admin.put("/_emulator/faults/transient", json={"rate": 1.0, "status": 503, "methods": ["GET"]}).raise_for_status()
    with pytest.raises(HttpResponseError) as caught:
        client.replication_fabrics.get(demo.rg, demo.vault, demo.ea_fabric)
    assert caught.value.status_code == 503
    assert caught.value.error.code == "ServiceUnavailable"
    assert caught.value.response.headers["Retry-After"] == "1"
    admin.delete("/_emulator/faults").raise_for_status()
    assert client.replication_fabrics.get(demo.rg, demo.vault, demo.ea_fabric).name == demo.ea_fabric


def test_a_partial_transient_rate_fails_some_requests_and_the_sdk_retries_through_them(make_client, demo, admin):
    admin.put("/_emulator/faults/transient", json={"rate": 0.3, "status": 500}).raise_for_status()
    bare = make_client()
    outcomes = []
    for _ in range(30):
        try:
            next(iter(bare.replication_policies.list(demo.rg, demo.vault)))
            outcomes.append("ok")
        except HttpResponseError as error:
            outcomes.append(str(error.status_code))
    assert "500" in outcomes
    assert "ok" in outcomes
    patient = make_client(retry_total=10, retry_backoff_factor=0.01)
    assert len(list(patient.replication_policies.list(demo.rg, demo.vault))) == 2


def test_latency_is_added_to_every_arm_answer(client, demo, admin):
    admin.put("/_emulator/faults/latency", json={"ms": 300}).raise_for_status()
    started = time.monotonic()
    client.replication_fabrics.get(demo.rg, demo.vault, demo.ea_fabric)
    assert time.monotonic() - started >= 0.3


def test_latency_can_be_limited_to_some_methods(client, demo, admin):
    described = admin.put("/_emulator/faults/latency", json={"ms": 1500, "methods": ["post"]}).json()
    assert described["latency"] == {"ms": 1500, "methods": ["POST"]}
    started = time.monotonic()
    client.replication_fabrics.get(demo.rg, demo.vault, demo.ea_fabric)
    assert time.monotonic() - started < 1.5  # a GET is not held
