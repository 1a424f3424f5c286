"""``/webhooks`` and ``/webhook-deliveries``: register receivers, rotate secrets, inspect and redeliver."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Query, Response

from app.api.deps import ContainerDep
from app.api.problems import documented
from app.api.security import Admin
from app.db import transaction, utcnow
from app.webhooks import service
from app.webhooks.events import EventType
from app.webhooks.schemas import (
    DeliveryOut,
    DeliveryPage,
    DeliveryStatus,
    RotateSecretIn,
    SecretRotated,
    WebhookCreated,
    WebhookIn,
    WebhookOut,
    WebhookPage,
    WebhookPatch,
)

router = APIRouter(tags=["webhooks"])
Limit = Annotated[int, Query(ge=1, le=200)]
Cursor = Annotated[str | None, Query(max_length=200)]


@router.post(
    "/webhooks",
    operation_id="createWebhook",
    status_code=201,
    response_model=WebhookCreated,
    responses=documented(400, 401, 403, 409, 413, 422, 429),
)
def create_webhook(body: WebhookIn, response: Response, container: ContainerDep, principal: Admin) -> WebhookCreated:
    """Register a receiver; the answer carries its signing secret, shown this once."""
    with transaction(container.sessions) as session:
        endpoint = service.create_endpoint(
            session, body, settings=container.settings.webhook, now=utcnow(), principal=principal
        )
        out = WebhookCreated.model_validate(endpoint)  # the one answer that carries the secret
    response.headers["Location"] = f"/webhooks/{out.id}"
    return out


@router.get(
    "/webhooks", operation_id="listWebhooks", response_model=WebhookPage, responses=documented(401, 403, 422, 429)
)
def list_webhooks(container: ContainerDep, principal: Admin, limit: Limit = 50, cursor: Cursor = None) -> WebhookPage:
    """Registered endpoints, newest first."""
    with transaction(container.sessions) as session:
        rows, next_cursor = service.list_endpoints(session, principal, limit=limit, cursor=cursor)
        return WebhookPage(items=[WebhookOut.model_validate(e) for e in rows], next_cursor=next_cursor)


@router.get(
    "/webhooks/{webhook_id}",
    operation_id="getWebhook",
    response_model=WebhookOut,
    responses=documented(401, 403, 404, 422, 429),
)
def get_webhook(webhook_id: uuid.UUID, container: ContainerDep, principal: Admin) -> WebhookOut:
    """One endpoint (without its secret)."""
    with transaction(container.sessions) as session:
        return WebhookOut.model_validate(service.get_endpoint(session, webhook_id, principal))


@router.patch(
    "/webhooks/{webhook_id}",
    operation_id="updateWebhook",
    response_model=WebhookOut,
    responses=documented(400, 401, 403, 404, 413, 422, 429),
)
def update_webhook(webhook_id: uuid.UUID, body: WebhookPatch, container: ContainerDep, principal: Admin) -> WebhookOut:
    """Change the URL, event types or description; enable or disable."""
    with transaction(container.sessions) as session:
        endpoint = service.update_endpoint(
            session, webhook_id, body, principal, settings=container.settings.webhook, now=utcnow()
        )
        return WebhookOut.model_validate(endpoint)


@router.post(
    "/webhooks/{webhook_id}/rotate-secret",
    operation_id="rotateWebhookSecret",
    response_model=SecretRotated,
    responses=documented(400, 401, 403, 404, 413, 422, 429),
)
def rotate_secret(
    webhook_id: uuid.UUID, body: RotateSecretIn, container: ContainerDep, principal: Admin
) -> SecretRotated:
    """A new signing secret (shown once); both sign deliveries during the grace period."""
    with transaction(container.sessions) as session:
        endpoint = service.rotate_secret(
            session, webhook_id, body, principal, settings=container.settings.webhook, now=utcnow()
        )
        return SecretRotated(
            id=endpoint.id, secret=endpoint.secret, previous_secret_expires_at=endpoint.previous_secret_expires_at
        )


@router.delete(
    "/webhooks/{webhook_id}",
    operation_id="deleteWebhook",
    status_code=204,
    responses=documented(401, 403, 404, 422, 429),
)
def delete_webhook(webhook_id: uuid.UUID, container: ContainerDep, principal: Admin) -> Response:
    """Stop delivering to an endpoint; pending deliveries are cancelled, history stays."""
    with transaction(container.sessions) as session:
        service.delete_endpoint(session, webhook_id, principal, now=utcnow())
    return Response(status_code=204)


@router.get(
    "/webhook-deliveries",
    operation_id="listWebhookDeliveries",
    response_model=DeliveryPage,
    responses=documented(401, 403, 422, 429),
)
def list_deliveries(
    container: ContainerDep,
    principal: Admin,
    status: DeliveryStatus | None = None,
    job_id: uuid.UUID | None = None,
    request_id: uuid.UUID | None = None,
    endpoint_id: uuid.UUID | None = None,
    event_type: EventType | None = None,
    limit: Limit = 50,
    cursor: Cursor = None,
) -> DeliveryPage:
    """Deliveries with their attempts, newest first, filtered."""
    where = service.DeliveryFilter(
        status=status,
        job_id=job_id,
        request_id=request_id,
        endpoint_id=endpoint_id,
        event_type=event_type.value if event_type else None,
    )
    with transaction(container.sessions) as session:
        rows, next_cursor = service.list_deliveries(session, principal, where=where, limit=limit, cursor=cursor)
        return DeliveryPage(items=[DeliveryOut.model_validate(d) for d in rows], next_cursor=next_cursor)


@router.get(
    "/webhook-deliveries/{delivery_id}",
    operation_id="getWebhookDelivery",
    response_model=DeliveryOut,
    responses=documented(401, 403, 404, 422, 429),
)
def get_delivery(delivery_id: uuid.UUID, container: ContainerDep, principal: Admin) -> DeliveryOut:
    """One delivery with every attempt."""
    with transaction(container.sessions) as session:
        return DeliveryOut.model_validate(service.get_delivery(session, delivery_id, principal))


@router.post(
    "/webhook-deliveries/{delivery_id}/redeliver",
    operation_id="redeliverWebhook",
    status_code=202,
    response_model=DeliveryOut,
    responses=documented(401, 403, 404, 409, 422, 429),
)
def redeliver(delivery_id: uuid.UUID, container: ContainerDep, principal: Admin) -> DeliveryOut:
    """Send the event again to the same receiver with the same webhook-id (a new delivery)."""
    with transaction(container.sessions) as session:
        return DeliveryOut.model_validate(service.redeliver(session, delivery_id, principal, now=utcnow()))
