"""Rendering endpoint and delivery rows as API schemas (never a secret, except once at creation)."""

from __future__ import annotations

from app.webhooks.models import WebhookDelivery, WebhookEndpoint
from app.webhooks.schemas import AttemptOut, DeliveryOut, WebhookCreated, WebhookOut


def endpoint_out(endpoint: WebhookEndpoint) -> WebhookOut:
    """An endpoint as lists and reads show it: no secret."""
    return WebhookOut(
        id=endpoint.id,
        url=endpoint.url,
        event_types=list(endpoint.event_types),
        description=endpoint.description,
        enabled=endpoint.enabled,
        disabled_reason=endpoint.disabled_reason,
        created_at=endpoint.created_at,
        updated_at=endpoint.updated_at,
        previous_secret_expires_at=endpoint.previous_secret_expires_at,
    )


def endpoint_created(endpoint: WebhookEndpoint) -> WebhookCreated:
    """The one answer that carries the secret."""
    return WebhookCreated(**endpoint_out(endpoint).model_dump(), secret=endpoint.secret)


def delivery_out(delivery: WebhookDelivery) -> DeliveryOut:
    """A delivery with every attempt."""
    return DeliveryOut(
        id=delivery.id,
        event_id=delivery.event_id,
        event_type=delivery.event_type,
        endpoint_id=delivery.endpoint_id,
        request_id=delivery.request_id,
        job_id=delivery.job_id,
        status=delivery.status,  # type: ignore[arg-type]
        attempts=delivery.attempts,
        next_attempt_at=delivery.next_attempt_at,
        last_status_code=delivery.last_status_code,
        last_error=delivery.last_error,
        created_at=delivery.created_at,
        finished_at=delivery.finished_at,
        redelivery_of=delivery.redelivery_of,
        attempt_log=[
            AttemptOut(
                number=a.number,
                at=a.at,
                duration_ms=a.duration_ms,
                status_code=a.status_code,
                error_code=a.error_code,
                error=a.error,
                response_excerpt=a.response_excerpt,
            )
            for a in delivery.attempt_log
        ],
    )
