"""Standard Webhooks signing as receivers read it: lowercase header names, the JSON content type, fresh
32-byte secrets, one v1 signature per secret in use."""

from __future__ import annotations

import base64
import time

from standardwebhooks.webhooks import Webhook

from app.outbound.signing import SECRET_PREFIX, new_event_id, new_secret, signature, signed_headers


def test_a_new_secret_is_whsec_and_32_random_bytes():
    secret = new_secret()
    assert secret.startswith(SECRET_PREFIX)
    assert len(base64.b64decode(secret.removeprefix(SECRET_PREFIX))) == 32
    assert new_secret() != secret


def test_event_ids_are_unique_msg_ids():
    first, second = new_event_id(), new_event_id()
    assert first.startswith("msg_")
    assert len(first) == 36
    assert first != second


def test_the_headers_are_exactly_the_standard_ones_and_verify_with_the_reference_library():
    secret, body = new_secret(), b'{"type":"x"}'
    headers = signed_headers([secret], message_id="msg_1", timestamp=1_700_000_000, body=body)
    assert headers == {
        "content-type": "application/json",
        "webhook-id": "msg_1",
        "webhook-timestamp": "1700000000",
        "webhook-signature": signature(secret, message_id="msg_1", timestamp=1_700_000_000, body=body),
    }


def test_during_a_rotation_either_secret_verifies():
    old, new, body = new_secret(), new_secret(), b'{"a":1}'
    headers = signed_headers([new, old], message_id="msg_2", timestamp=int(time.time()), body=body)
    assert len(headers["webhook-signature"].split(" ")) == 2
    for secret in (old, new):
        assert Webhook(secret).verify(body, headers) == {"a": 1}
