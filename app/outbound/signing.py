"""Standard Webhooks signatures: ``whsec_`` secrets and the ``webhook-id/-timestamp/-signature`` headers.

The signed content is ``{id}.{timestamp}.{body}``; the key is the base64 part of the secret; the
signature header lists one ``v1,<base64 HMAC-SHA256>`` per secret in use (two during a rotation), so a
receiver verifying with either the old or the new secret accepts the message.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
import uuid

SECRET_PREFIX = "whsec_"  # noqa: S105 - the Standard Webhooks prefix, not a secret
_SECRET_BYTES = 32


def new_secret() -> str:
    """A fresh signing secret: ``whsec_`` + base64 of 32 random bytes."""
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(_SECRET_BYTES)).decode()


def new_event_id() -> str:
    """A webhook-id: unique per event, the same on every retry of it."""
    return f"msg_{uuid.uuid4().hex}"


def signature(secret: str, *, message_id: str, timestamp: int, body: bytes) -> str:
    """``v1,`` + base64 HMAC-SHA256 of ``id.timestamp.body`` under ``secret``."""
    key = base64.b64decode(secret.removeprefix(SECRET_PREFIX))
    signed = f"{message_id}.{timestamp}.".encode() + body
    digest = hmac.new(key, signed, hashlib.sha256).digest()
    return "v1," + base64.b64encode(digest).decode()


def signed_headers(secrets_in_use: list[str], *, message_id: str, timestamp: int, body: bytes) -> dict[str, str]:
    """The three Standard Webhooks headers (plus the JSON content type) for one attempt."""
    signatures = " ".join(signature(s, message_id=message_id, timestamp=timestamp, body=body) for s in secrets_in_use)
    return {
        "content-type": "application/json",
        "webhook-id": message_id,
        "webhook-timestamp": str(timestamp),
        "webhook-signature": signatures,
    }
