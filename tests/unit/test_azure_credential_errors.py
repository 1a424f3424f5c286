"""Credential and permission failures as the unmodified SDK raises them are permanent and say what is wrong:
an Entra ID failure or an ARM 401 is ``azure_auth_failed``; an ARM 403 is ``azure_forbidden`` naming the
principal, the action and the scope as Azure states them; an ASR refusal records ASR's code from
``details[]`` with its causes and action (bodies from ``tests/data/azure/arm_and_asr_error_bodies.json``)."""

from __future__ import annotations

import json

import pytest
from azure.core.exceptions import ClientAuthenticationError
from azure.core.pipeline.transport import HttpResponse
from azure.identity import ClientSecretCredential, CredentialUnavailableError

from app.cloud.errors import translate_error
from app.errors import CloudAuthFailed, CloudForbidden, CloudPermanent
from tests.data import load
from tests.unit.test_azure_errors import VIA, _raised

SAMPLES = load("arm_and_asr_error_bodies.json")


def _recorded(name: str) -> tuple[int, dict[str, str], bytes]:
    sample = SAMPLES[name]
    return sample["status"], {"Content-Type": "application/json; charset=utf-8"}, json.dumps(sample["body"]).encode()


@VIA
@pytest.mark.parametrize("name", ["invalid_authentication_token"])
def test_an_arm_401_is_a_permanent_auth_failure_quoting_arm(name, via):
    error = translate_error(_raised(_recorded(name), via=via))
    assert type(error) is CloudAuthFailed
    assert error.code == "azure_auth_failed"
    assert error.message.startswith("The service's identity cannot sign in: ")
    assert "InvalidAuthenticationToken" in error.message


def test_a_credential_that_cannot_give_a_token_is_a_permanent_auth_failure():
    exc = _raised((200, {}, b"{}"), via="sdk", credential=_Unavailable())
    assert isinstance(exc, CredentialUnavailableError)
    error = translate_error(exc)
    assert type(error) is CloudAuthFailed
    assert error.message == "The service's identity cannot sign in: No managed identity endpoint found."
    assert error.details["reason"] == "No managed identity endpoint found."


def test_an_entra_id_refusal_from_azure_identity_is_a_permanent_auth_failure():
    # A real azure-identity credential whose token request Entra ID refuses (canned HTTP answer).
    refusal = {
        "error": "invalid_client",
        "error_description": "AADSTS7000215: Invalid client secret provided.",
    }
    credential = ClientSecretCredential(
        "72f988bf-86f1-41af-91ab-2d7cd011db47",
        "3f0c2a4e-6d1b-4e8a-9c57-2b9e0d4a7f13",
        "wrong",
        transport=_TokenEndpoint(400, refusal),
        disable_instance_discovery=True,
    )
    exc = _raised((200, {}, b"{}"), via="sdk", credential=credential)
    assert isinstance(exc, ClientAuthenticationError)
    error = translate_error(exc)
    assert type(error) is CloudAuthFailed
    assert "AADSTS7000215" in error.message


@VIA
def test_authorization_failed_names_the_principal_action_and_scope_as_azure_states_them(via):
    error = translate_error(_raised(_recorded("authorization_failed"), via=via))
    assert type(error) is CloudForbidden
    assert error.code == "azure_forbidden"
    assert error.status == 403
    assert {k: error.details[k] for k in ("client_id", "object_id", "action", "scope")} == {
        "client_id": "OdentheGray@AtomicMass3B9.com",
        "object_id": "ba0f5140-5f04-4da9-aa19-e814f6c9eac3",
        "action": "Microsoft.Resources/subscriptions/resourcegroups/write",
        "scope": "/subscriptions/81837647-dd76-460a-9400-714d988f655b/resourcegroups/atomicmass3b9",
    }
    assert "'Microsoft.Resources/subscriptions/resourcegroups/write'" in error.message
    assert error.details["azure_code"] == "AuthorizationFailed"


@VIA
def test_linked_authorization_failed_names_the_linked_action_and_scope(via):
    error = translate_error(_raised(_recorded("linked_authorization_failed"), via=via))
    assert type(error) is CloudForbidden
    assert error.details["action"] == "Microsoft.ManagedIdentity/userAssignedIdentities/assign/action"
    assert error.details["scope"].endswith("/userAssignedIdentities/elephant")
    assert error.details["client_id"] == "xxxx-xxxx-xxxx-xxxx"


def test_a_403_azure_words_differently_is_still_forbidden_with_azures_message():
    body = json.dumps({"error": {"code": "Forbidden", "message": "Caller is not authorized."}}).encode()
    error = translate_error(_raised((403, {"Content-Type": "application/json"}, body), via="plain"))
    assert type(error) is CloudForbidden
    assert "Caller is not authorized." in error.message
    assert "action" not in error.details


@VIA
def test_an_asr_refusal_records_asrs_code_from_details_with_causes_and_action(via):
    error = translate_error(_raised(_recorded("asr_refusal"), via=via))
    assert type(error) is CloudPermanent
    assert (error.code, error.status) == ("SubscriptionIdNotRegisteredWithSrs", 400)
    assert error.message == "The resource with ID 2195638768288125375 isn't registered with the service."
    assert error.details["azure_code"] == "BadRequest"
    assert error.details["asr_code"] == "SubscriptionIdNotRegisteredWithSrs"
    assert error.details["possible_causes"] == "The operation failed due to an internal error."
    assert error.details["recommended_action"].startswith("Retry the last action.")


def test_an_asr_refusal_with_its_advice_at_the_top_level_keeps_it():
    # The other plausible shape (ARMExceptionDetails in the ASR spec allows advice at either level).
    body = {
        "error": {
            "code": "Conflict",
            "message": "Another operation is in progress.",
            "possibleCauses": "One operation at a time.",
            "recommendedAction": "Wait, then retry.",
            "details": [{"code": "28054", "message": "Another operation is in progress."}],
        }
    }
    error = translate_error(_raised((409, {"Content-Type": "application/json"}, json.dumps(body).encode()), via="sdk"))
    assert (error.code, error.details["possible_causes"], error.details["recommended_action"]) == (
        "28054",
        "One operation at a time.",
        "Wait, then retry.",
    )


def test_a_specific_top_level_code_is_kept_even_with_details():
    body = {"error": {"code": "InvalidRequestContent", "message": "Bad.", "details": [{"code": "X", "message": "x"}]}}
    error = translate_error(_raised((400, {"Content-Type": "application/json"}, json.dumps(body).encode()), via="sdk"))
    assert error.code == "InvalidRequestContent"
    assert "asr_code" not in error.details


class _Unavailable:
    def get_token(self, *scopes, **kwargs):
        raise CredentialUnavailableError(message="No managed identity endpoint found.")


class _TokenEndpoint:
    """azure-identity's HTTP transport standing in for Entra ID: authority discovery answers as Entra ID does,
    every token request gets one canned answer."""

    def __init__(self, status: int, body: dict):
        self.status, self.body = status, body

    def __enter__(self):
        return self

    def __exit__(self, *args):
        pass

    def open(self):
        pass

    def close(self):
        pass

    def send(self, request, **kwargs):
        if request.method == "GET":  # MSAL's authority discovery comes first
            base = "https://login.microsoftonline.com/" + request.url.split("/")[3]
            config = {
                "token_endpoint": f"{base}/oauth2/v2.0/token",
                "authorization_endpoint": f"{base}/oauth2/v2.0/authorize",
                "issuer": f"{base}/v2.0",
            }
            return _Answer(request, 200, config)
        return _Answer(request, self.status, self.body)


class _Answer(HttpResponse):
    def __init__(self, request, status: int, body: dict):
        super().__init__(request, None)
        self.status_code = status
        self.headers = {"Content-Type": "application/json"}
        self.reason = "OK" if status == 200 else "Bad Request"
        self.content_type = "application/json"
        self._body = json.dumps(body).encode()

    def body(self):
        return self._body


@pytest.mark.parametrize("status", [400, 401])
def test_an_entra_id_answer_attached_to_the_sign_in_error_is_still_an_auth_failure(status):
    """azure-identity's own Entra ID client (workload identity, client assertions) raises with Entra's HTTP
    answer attached, so the error carries 400/401: still a sign-in failure, never an ARM refusal."""
    from azure.core.rest import HttpRequest

    answer = HttpResponse(HttpRequest("POST", "https://login.microsoftonline.com/t/oauth2/v2.0/token"), None)
    answer.status_code = status
    answer.reason = "Bad Request"
    exc = ClientAuthenticationError(
        message="AADSTS700213: No matching federated identity record found", response=answer
    )
    assert exc.status_code == status
    error = translate_error(exc)
    assert type(error) is CloudAuthFailed
    assert "AADSTS700213" in error.message
