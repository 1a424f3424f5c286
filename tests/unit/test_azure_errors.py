"""translate_error sorts every Azure failure class as the SDK really raises it: 429 throttled (with Retry-After), 408/5xx and connection faults transient, other 4xx permanent with Azure's own code."""

from __future__ import annotations

import io
import json

import pytest
import requests
import urllib3
from azure.core.exceptions import (
    HttpResponseError,
    ServiceRequestError,
    ServiceResponseError,
)
from azure.core.pipeline.transport import RequestsTransport
from azure.core.rest import HttpRequest
from azure.mgmt.recoveryservicessiterecovery import SiteRecoveryManagementClient
from requests.adapters import BaseAdapter, HTTPAdapter

from app.cloud.clients import StaticTokenCredential
from app.cloud.errors import translate_error
from app.errors import CloudPermanent, CloudThrottled, CloudTransient

SUB = "6d3c1b8e-2f47-4a9c-b1e5-7c0d9a4f2e18"
VM_ID = f"/subscriptions/{SUB}/resourceGroups/rg/providers/Microsoft.Compute/virtualMachines/web-01"


class CannedAzure(BaseAdapter):
    """The far end of the HTTP connection: answers (or fails) each request as told, like ARM would."""

    def __init__(self, answer: tuple[int, dict[str, str], bytes] | Exception):
        super().__init__()
        self.answer = answer

    def send(self, request, **kwargs):
        if isinstance(self.answer, Exception):
            raise self.answer
        status, headers, body = self.answer
        raw = urllib3.HTTPResponse(body=io.BytesIO(body), headers=headers, status=status, preload_content=False)
        return HTTPAdapter().build_response(request, raw)

    def close(self):
        pass


def _arm_error(status: int, code: str, message: str, headers: dict[str, str] | None = None):
    body = json.dumps({"error": {"code": code, "message": message}}).encode()
    return status, {"Content-Type": "application/json; charset=utf-8", **(headers or {})}, body


def _raised(answer, *, via: str, credential=None) -> Exception:
    """What the unmodified SDK raises when ARM answers ``answer`` (no SDK retries, like the service)."""
    session = requests.Session()
    session.mount("https://", CannedAzure(answer))
    client = SiteRecoveryManagementClient(
        credential or StaticTokenCredential("t"),
        SUB,
        transport=RequestsTransport(session=session, session_owner=False),
        retry_total=0,
    )
    try:
        if via == "sdk":  # a Site Recovery operation: the SDK maps the ARM error body
            client.replication_fabrics.get("rg", "vault", "asr-a2a-default-eastasia")
        else:  # a plain ARM read through the same pipeline, as AzureCloud.get_resource does
            client.send_request(HttpRequest("GET", VM_ID, params={"api-version": "2024-07-01"})).raise_for_status()
    except Exception as exc:
        return exc
    finally:
        client.close()
    raise AssertionError("the SDK raised nothing")


VIA = pytest.mark.parametrize("via", ["sdk", "plain"])


@VIA
@pytest.mark.parametrize(
    ("status", "code"),
    [
        (400, "InvalidRequestContent"),
        (404, "ResourceNotFound"),
        (409, "28054"),
    ],
)
def test_client_errors_are_permanent_and_carry_azures_code(status, code, via):
    exc = _raised(_arm_error(status, code, "Azure says no."), via=via)
    assert isinstance(exc, HttpResponseError)
    error = translate_error(exc)
    assert type(error) is CloudPermanent
    assert error.status == status
    if via == "sdk":
        assert (error.code, error.message) == (code, "Azure says no.")
    assert error.details["azure_code"] == code
    assert error.details["azure_error"]["code"] == code  # the ARM error body travels with it


@VIA
@pytest.mark.parametrize("status", [408, 500, 502, 503, 504])
def test_timeouts_and_server_errors_are_transient(status, via):
    error = translate_error(_raised(_arm_error(status, "ServerError", "Try again."), via=via))
    assert type(error) is CloudTransient
    assert error.status == status
    assert error.retry_after is None  # no Retry-After: the worker's own backoff decides
    assert str(status) in error.message


@VIA
def test_a_transient_error_carries_azures_retry_after(via):
    error = translate_error(_raised(_arm_error(503, "ServiceUnavailable", "Busy.", {"Retry-After": "9"}), via=via))
    assert type(error) is CloudTransient
    assert (error.status, error.retry_after) == (503, 9.0)


def test_a_gateway_error_without_an_arm_body_is_transient():
    exc = _raised((502, {"Content-Type": "text/html"}, b"<html>Bad Gateway</html>"), via="sdk")
    error = translate_error(exc)
    assert type(error) is CloudTransient
    assert error.status == 502


@VIA
def test_429_is_throttled_with_azures_retry_after(via):
    exc = _raised(_arm_error(429, "SubscriptionRequestsThrottled", "Slow down.", {"Retry-After": "17"}), via=via)
    error = translate_error(exc)
    assert type(error) is CloudThrottled
    assert error.retry_after == 17.0
    assert error.status == 429


@VIA
def test_429_without_retry_after_is_still_throttled_with_a_real_wait(via):
    error = translate_error(_raised(_arm_error(429, "TooManyRequests", "Slow down."), via=via))
    assert type(error) is CloudThrottled
    assert error.retry_after >= 5.0  # never "retry at once" into the same throttle


@pytest.mark.parametrize(
    "failure",
    [
        requests.exceptions.ConnectionError("connection refused"),
        requests.exceptions.ConnectTimeout("connect timed out"),
    ],
)
def test_a_request_that_never_reached_azure_is_transient(failure):
    exc = _raised(failure, via="sdk")
    assert isinstance(exc, ServiceRequestError)
    error = translate_error(exc)
    assert type(error) is CloudTransient
    assert error.status is None


@pytest.mark.parametrize(
    "failure",
    [
        requests.exceptions.ReadTimeout("read timed out"),
        requests.exceptions.ConnectionError(urllib3.exceptions.ProtocolError("connection reset mid-answer")),
    ],
)
def test_an_answer_that_never_arrived_is_transient(failure):
    exc = _raised(failure, via="sdk")
    assert isinstance(exc, ServiceResponseError)
    error = translate_error(exc)
    assert type(error) is CloudTransient
    assert error.status is None


def test_a_retry_after_of_zero_on_a_transient_error_is_kept():
    error = translate_error(_raised(_arm_error(503, "ServerBusy", "Busy.", {"Retry-After": "0"}), via="plain"))
    assert isinstance(error, CloudTransient)
    assert error.retry_after == 0.0


def test_a_refusal_carries_azures_error_object_in_its_details():
    error = translate_error(_raised(_arm_error(400, "BadRequest", "No."), via="plain"))
    assert error.details == {"azure_code": "BadRequest", "azure_error": {"code": "BadRequest", "message": "No."}}


def test_a_refusal_without_an_error_wrapper_carries_the_whole_body():
    body = json.dumps({"code": "Odd", "message": "bare"}).encode()
    error = translate_error(_raised((400, {"Content-Type": "application/json"}, body), via="plain"))
    assert error.details["azure_error"] == {"code": "Odd", "message": "bare"}


def test_a_refusal_whose_body_is_not_json_has_empty_details():
    error = translate_error(_raised((400, {"Content-Type": "text/plain"}, b"gateway says no"), via="plain"))
    assert isinstance(error, CloudPermanent)
    assert error.details == {}


@VIA
def test_a_throttle_says_so_with_azures_message_and_waits_30_seconds_without_retry_after(via):
    error = translate_error(_raised(_arm_error(429, "TooManyRequests", "Slow down."), via=via))
    assert type(error) is CloudThrottled
    if via == "sdk":
        assert error.message == "Azure throttled the request: Slow down."
    assert error.message.startswith("Azure throttled the request: ")
    assert error.retry_after == 30.0


def test_a_refusal_without_an_arm_body_carries_the_status_as_its_code_and_the_sdks_message():
    exc = _raised((404, {"Content-Type": "text/plain"}, b"not here"), via="plain")
    assert isinstance(exc, HttpResponseError)
    error = translate_error(exc)
    assert type(error) is CloudPermanent
    assert (error.code, error.status) == ("404", 404)
    assert error.message == exc.message
    assert error.message.startswith("Operation returned an invalid status")


def test_a_request_that_never_reached_azure_says_why():
    exc = _raised(requests.exceptions.ConnectionError("connection refused"), via="sdk")
    error = translate_error(exc)
    assert error.message == f"Azure could not be reached: {exc}"
    assert "connection refused" in error.message


def test_an_unexpected_exception_becomes_a_transient_error_naming_it():
    error = translate_error(RuntimeError("socket closed"))
    assert type(error) is CloudTransient
    assert error.message == "Unexpected error talking to Azure: RuntimeError('socket closed')"


def test_a_lowercase_retry_after_header_is_read_too():
    # HTTP header names are case-insensitive; the SDK's responses honour that.
    error = translate_error(_raised(_arm_error(503, "Busy", "Busy.", {"retry-after": "4"}), via="plain"))
    assert error.retry_after == 4.0
