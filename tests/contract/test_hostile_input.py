"""Input Schemathesis does not send: oversized, streamed, deeply nested, not JSON at all. Each operation
that takes a body refuses it with a 4xx problem+json (whether that status is documented is for
``test_regressions.py``)."""

from __future__ import annotations

import uuid

import pytest

from tests.contract.payloads import chunks

pytestmark = pytest.mark.contract

ANY_ID = uuid.UUID("0b5c7f1e-9a3d-4e62-8f10-6d2c4b7a9e35")  # fixed: test ids must be the same in every run
BODY_OPERATIONS = [
    ("POST", "/reprotect"),
    ("POST", "/webhooks"),
    ("PATCH", f"/webhooks/{ANY_ID}"),
    ("POST", f"/webhooks/{ANY_ID}/rotate-secret"),
    ("POST", "/api-keys"),
    ("POST", "/jobs:retry"),
    ("POST", "/jobs:cancel"),
]
JSON = {"Content-Type": "application/json"}


def _assert_refused(answer) -> None:
    assert 400 <= answer.status_code < 500, (answer.status_code, answer.text)
    assert answer.headers["content-type"] == "application/problem+json"


@pytest.mark.parametrize(("method", "path"), BODY_OPERATIONS)
def test_a_body_over_the_limit_is_refused(api, container, method, path):
    too_big = b"x" * (container.settings.api.max_body_bytes + 1)

    answer = api.request(method, path, content=too_big, headers=JSON)

    assert answer.status_code == 413
    _assert_refused(answer)


@pytest.mark.parametrize(("method", "path"), BODY_OPERATIONS)
def test_a_streamed_body_growing_over_the_limit_is_refused(api, container, method, path):
    _assert_refused(api.request(method, path, content=chunks(container.settings.api.max_body_bytes), headers=JSON))


@pytest.mark.parametrize(("method", "path"), BODY_OPERATIONS)
@pytest.mark.parametrize(
    "body",
    [b"[" * 100_000 + b"]" * 100_000, b"not json", b'{"a": 1', b"\x00\xff\xfe", b"null", b"[]", b"1e999999"],
    ids=["nested-100k", "text", "truncated", "binary", "null", "array", "huge-number"],
)
def test_a_body_that_is_not_the_object_expected_is_refused(api, method, path, body):
    _assert_refused(api.request(method, path, content=body, headers=JSON))


@pytest.mark.parametrize(("method", "path"), BODY_OPERATIONS)
def test_a_body_sent_as_another_media_type_is_refused(api, method, path):
    _assert_refused(api.request(method, path, content=b'{"url": "x"}', headers={"Content-Type": "text/plain"}))
