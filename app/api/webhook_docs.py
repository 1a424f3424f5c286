"""The webhook events in the OpenAPI 3.1 ``webhooks`` section: what the service POSTs to a receiver.

One entry per event type, with its payload model (``app.webhook.payloads``), the three Standard Webhooks
headers a receiver verifies, and what the service does with each answer. Documentation only: these
operations are never served. (No ``from __future__ import annotations``: FastAPI reads the payload model
from the annotation of a function made in a loop.)
"""

from typing import Annotated, Any

from fastapi import FastAPI, Header
from fastapi.responses import Response
from pydantic import BaseModel

from app.webhook import payloads

SIGNING = """Signed as Standard Webhooks: verify `webhook-signature` over `{webhook-id}.{webhook-timestamp}.{body}`
with HMAC-SHA256 keyed by the base64 part of your `whsec_…` secret (the endpoint's, or the request's
`callback_secret`), and refuse timestamps more than a few minutes old. During a secret rotation two
signatures are sent, one per secret. The same event keeps its `webhook-id` on every retry and redelivery:
use it to drop duplicates."""

ANSWERS: dict[int | str, dict[str, Any]] = {
    204: {"description": "Any 2xx within 10 s acknowledges the delivery."},
    410: {"description": "Gone: the service disables the endpoint and stops delivering to it."},
    "default": {
        "description": "Any other answer, or none in time: retried with exponential backoff and jitter for about "
        "a day (webhook.retry_window_seconds); every attempt is listed under `GET /webhook-deliveries/{id}`."
    },
}

WebhookId = Annotated[
    str, Header(alias="webhook-id", description="The event's id (`msg_…`): the same on every retry; deduplicate on it")
]
WebhookTimestamp = Annotated[
    str, Header(alias="webhook-timestamp", description="Unix seconds when this attempt was signed")
]
WebhookSignature = Annotated[
    str,
    Header(alias="webhook-signature", description="Space-separated `v1,<base64 HMAC-SHA256>`, one per secret in use"),
]


def _receiver(model: type[BaseModel]) -> Any:
    def receive(body: model, webhook_id: WebhookId, webhook_timestamp: WebhookTimestamp,  # type: ignore[valid-type]
                webhook_signature: WebhookSignature) -> Response:  # fmt: skip
        return Response(status_code=204)  # pragma: no cover - documentation only, never routed

    return receive


def install(app: FastAPI) -> None:
    """Describe every event type under ``app.webhooks``."""
    for event_type, model in payloads.EVENT_MODELS.items():
        app.webhooks.post(
            event_type,
            operation_id=f"webhook_{event_type.replace('.', '_')}",
            summary=event_type,
            description=f"{(model.__doc__ or '').strip()}\n\n{SIGNING}",
            status_code=204,
            response_class=Response,
            responses=ANSWERS,
            tags=["webhooks"],
        )(_receiver(model))
