"""The emulator's error answers have the shape of the recorded Azure ones
(``tests/data/azure/arm_and_asr_error_bodies.json``): an ASR refusal carries a generic top-level code and
ASR's error in ``details[]``; ARM's 401/403/404 are ``{error: {code, message}}``; a 403's message states
principal, action and scope in ARM's words (read by the same parser the service uses)."""

from __future__ import annotations

import pytest
from azure.core.exceptions import ClientAuthenticationError, HttpResponseError

from app.cloud.authz import read_denial
from emulator.access import action_of
from tests.data import load
from tests.emulator.support import arm_get, item_json, switch_body

RECORDED = load("arm_and_asr_error_bodies.json")


def _shape(value):
    """Keys and value types, recursively (lists by their first element)."""
    if isinstance(value, dict):
        return {k: _shape(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_shape(value[0])] if value else []
    return type(value).__name__


def _refusal(client, demo, body) -> HttpResponseError:
    with pytest.raises(HttpResponseError) as caught:
        client.replication_protection_containers.begin_switch_protection(
            demo.rg, demo.vault, demo.ea_fabric, demo.ea_container, body, polling=False
        )
    return caught.value


def test_an_asr_refusal_has_the_recorded_envelope(client, demo):
    error = _refusal(client, demo, switch_body(demo, item_json(client, demo, "batch-01")))
    answer = error.response.json()
    assert _shape(answer) == _shape(RECORDED["asr_refusal"]["body"])
    assert answer["error"]["code"] == "BadRequest"
    assert answer["error"]["details"][0]["code"] == "28053"


def test_a_conflict_refusal_uses_the_generic_conflict_code(client, demo):
    body = switch_body(demo, item_json(client, demo, "web-01"))
    client.replication_protection_containers.begin_switch_protection(
        demo.rg, demo.vault, demo.ea_fabric, demo.ea_container, body, polling=False
    )
    error = _refusal(client, demo, body)
    assert (error.status_code, error.error.code, error.error.details[0].code) == (409, "Conflict", "28054")


def test_plain_arm_errors_keep_arms_code_and_message_only(client, demo):
    answer = arm_get(client, f"/subscriptions/{demo.sub}/resourceGroups/no-such-group")
    assert answer.status_code == 404
    assert set(answer.json()["error"]) == {"code", "message"}


def test_a_denied_action_is_arms_403_authorization_failed_in_arms_words(client, demo, admin):
    action = (
        "Microsoft.RecoveryServices/vaults/replicationFabrics/replicationProtectionContainers/switchprotection/action"
    )
    admin.put("/_emulator/rbac", json={"deny": [action], "client_id": "app-1", "object_id": "oid-1"}).raise_for_status()
    error = _refusal(client, demo, switch_body(demo, item_json(client, demo, "web-01")))
    answer = error.response.json()
    assert error.status_code == 403
    assert _shape(answer) == _shape(RECORDED["authorization_failed"]["body"])
    assert answer["error"]["code"] == "AuthorizationFailed"
    recorded = read_denial(RECORDED["authorization_failed"]["body"]["error"]["message"])
    ours = read_denial(answer["error"]["message"])
    assert None not in (recorded.action, recorded.scope, recorded.object_id)  # the recorded words parse
    assert (ours.client_id, ours.object_id, ours.action) == ("app-1", "oid-1", action)
    assert ours.scope is not None
    assert ours.scope.endswith(f"/replicationProtectionContainers/{demo.ea_container}")


def test_invalid_tokens_are_arms_401_invalid_authentication_token(client, demo, admin):
    admin.put("/_emulator/auth", json={"tokens_valid": False}).raise_for_status()
    with pytest.raises(ClientAuthenticationError) as caught:
        client.replication_fabrics.get(demo.rg, demo.vault, demo.ea_fabric)
    answer = caught.value.response.json()
    assert caught.value.status_code == 401
    assert _shape(answer) == _shape(RECORDED["invalid_authentication_token"]["body"])
    assert answer["error"]["code"] == "InvalidAuthenticationToken"
    assert 'error="invalid_token"' in caught.value.response.headers["WWW-Authenticate"]
    admin.put("/_emulator/auth", json={"tokens_valid": True}).raise_for_status()
    assert client.replication_fabrics.get(demo.rg, demo.vault, demo.ea_fabric).name == demo.ea_fabric


def test_reset_grants_everything_again(client, demo, admin):
    admin.put("/_emulator/rbac", json={"deny": ["*"]}).raise_for_status()
    admin.post("/_emulator/reset").raise_for_status()
    assert admin.get("/_emulator/rbac").json()["deny"] == []
    assert client.replication_fabrics.get(demo.rg, demo.vault, demo.ea_fabric).name == demo.ea_fabric


def test_a_bad_rbac_body_is_refused(admin):
    assert admin.put("/_emulator/rbac", json={"deny": "everything"}).status_code == 400
    assert admin.put("/_emulator/auth", json={"tokens_valid": "no"}).status_code == 400


@pytest.mark.parametrize(
    ("method", "path", "action"),
    [
        ("GET", "/subscriptions/s/resourceGroups/rg", "Microsoft.Resources/subscriptions/resourceGroups/read"),
        (
            "GET",
            "/subscriptions/s/resourceGroups/rg/providers/Microsoft.Compute/virtualMachines/vm1",
            "Microsoft.Compute/virtualMachines/read",
        ),
        (
            "GET",
            "/subscriptions/s/resourceGroups/rg/providers/Microsoft.RecoveryServices/vaults/v/replicationJobs",
            "Microsoft.RecoveryServices/vaults/replicationJobs/read",
        ),
        (
            "POST",
            "/subscriptions/s/resourceGroups/rg/providers/Microsoft.RecoveryServices/vaults/v/replicationJobs/j/cancel",
            "Microsoft.RecoveryServices/vaults/replicationJobs/cancel/action",
        ),
        (
            "PUT",
            "/subscriptions/s/resourceGroups/rg/providers/Microsoft.Storage/storageAccounts/a",
            "Microsoft.Storage/storageAccounts/write",
        ),
    ],
)
def test_the_action_a_request_needs_is_named_as_rbac_names_it(method, path, action):
    assert action_of(method, path)[0] == action
