"""One plain test per finding of the Schemathesis run, each the smallest request that shows it.

Each was a strict xfail (with a ``KNOWN_FINDINGS`` entry in ``findings.py``) until its fix landed; all pass now.
"""

from __future__ import annotations

from typing import Any

import jsonschema_rs
import pytest

from tests.contract.payloads import chunks
from tests.contract.seed import committed_vms, demo_vault

pytestmark = pytest.mark.contract

PROBLEM_JSON = "application/problem+json"
RECEIVER = "http://127.0.0.1:9/hooks"  # admitted by the test SSRF policy; never called here


def _operation(api, operation_id: str) -> dict[str, Any]:
    document = api.get("/openapi.json").json()
    return next(op for path in document["paths"].values() for op in path.values() if op["operationId"] == operation_id)


def _documented(api, operation_id: str) -> set[int]:
    return {int(status) for status in _operation(api, operation_id)["responses"]}


def _document_accepts(api, operation_id: str, body: Any) -> bool:
    """Whether the body is valid against the request schema the document publishes."""
    document = api.get("/openapi.json").json()
    schema = _operation(api, operation_id)["requestBody"]["content"]["application/json"]["schema"]
    return bool(jsonschema_rs.validator_for({**schema, "components": document["components"]}).is_valid(body))


def _header_accepts(api, operation_id: str, name: str, value: str) -> bool:
    """Whether the header value is valid against the parameter schema the document publishes."""
    [parameter] = [p for p in _operation(api, operation_id)["parameters"] if p["name"].lower() == name.lower()]
    return bool(jsonschema_rs.validator_for(parameter["schema"]).is_valid(value))


def _webhook(api) -> str:
    created = api.post("/webhooks", json={"url": RECEIVER})
    assert created.status_code == 201, created.text
    return str(created.json()["id"])


# --- answers the document does not describe -------------------------------------------------------


def test_a_json_body_that_is_not_utf8_is_refused_with_a_documented_problem(api):
    answer = api.post("/webhooks", content=b'{"url": "\xff"}', headers={"Content-Type": "application/json"})

    assert answer.status_code in _documented(api, "createWebhook")
    assert answer.headers["content-type"] == PROBLEM_JSON


def test_an_oversized_body_is_refused_with_a_documented_problem(api, container):
    too_big = "x" * (container.settings.api.max_body_bytes + 1)
    answer = api.post("/webhooks", json={"url": RECEIVER, "description": too_big})

    assert answer.status_code == 413
    assert 413 in _documented(api, "createWebhook")


def test_a_streamed_body_over_the_limit_is_refused_with_413(api, container):
    answer = api.post(
        "/webhooks", content=chunks(container.settings.api.max_body_bytes), headers={"Content-Type": "application/json"}
    )

    assert answer.status_code == 413
    assert answer.json()["code"] == "body_too_large"


def test_405_allows_every_method_of_the_resource(api):
    answer = api.put(f"/webhooks/{_webhook(api)}")

    assert answer.status_code == 405
    assert {m.strip() for m in answer.headers["allow"].split(",")} >= {"GET", "PATCH", "DELETE"}


# --- wrongly typed input that is accepted --------------------------------------------------------


def test_a_boolean_grace_period_is_refused(api):
    answer = api.post(f"/webhooks/{_webhook(api)}/rotate-secret", json={"grace_seconds": True})

    assert answer.status_code == 422


def test_a_number_for_enabled_is_refused(api):
    answer = api.patch(f"/webhooks/{_webhook(api)}", json={"enabled": 0})

    assert answer.status_code == 422


def test_a_number_is_not_a_date_time_filter(api):
    answer = api.get("/jobs", params={"created_before": "0.5"})

    assert answer.status_code == 422


def test_a_number_is_not_an_expiry(api):
    answer = api.post("/api-keys", json={"name": "n", "role": "reader", "scopes": ["*"], "expires_at": 4102444800})

    assert answer.status_code == 422


# --- valid by the document, refused by the service (the document says too little) ----------------


@pytest.mark.parametrize(
    "vm",
    [{}, {"item_id": "/subscriptions/s/x", "vault_id": "/subscriptions/s/v", "vm_name": "vm"}],
    ids=["none", "both"],
)
def test_the_document_refuses_a_vm_named_neither_or_both_ways(api, vm):
    body = {"vms": [vm]}

    assert api.post("/reprotect", json=body).status_code == 422
    assert not _document_accepts(api, "reprotect", body)


def test_the_document_refuses_an_item_id_that_names_no_replicated_item(api):
    body = {"vms": [{"item_id": "/subscriptions/s/resourceGroups/g"}]}

    refused = api.post("/reprotect", json=body)
    assert refused.status_code == 422
    assert refused.json()["code"] == "invalid_item_id"
    assert not _document_accepts(api, "reprotect", body)


def test_the_document_refuses_a_scope_the_service_refuses(api):
    body = {"name": "n", "role": "reader", "scopes": [""]}

    assert api.post("/api-keys", json=body).status_code == 422
    assert not _document_accepts(api, "createApiKey", body)


def test_the_document_refuses_a_target_network(api, emulator):
    vm = committed_vms(demo_vault(emulator))[0]
    body = {"vms": [{"item_id": vm["id"], "target_network_id": "/subscriptions/s/n"}]}

    refused = api.post("/reprotect", json=body, params={"dry_run": "true"})
    assert refused.status_code == 422
    assert refused.json()["vms"][0]["code"] == "network_not_changeable"
    assert not _document_accepts(api, "reprotect", body)


def test_the_document_refuses_an_idempotency_key_the_service_refuses(api):
    refused = api.post(
        "/reprotect", json={"vms": [{"item_id": "/subscriptions/s/x"}]}, headers={"Idempotency-Key": "a b"}
    )

    assert refused.status_code == 422
    assert refused.json()["code"] == "invalid_idempotency_key"
    assert not _header_accepts(api, "reprotect", "Idempotency-Key", "a b")
