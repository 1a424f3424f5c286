"""``/webhooks`` and ``/webhook-deliveries``: register receivers, rotate secrets, inspect and redeliver."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Query, Response

from app.api.deps import ContainerDep
from app.api.problems import REPLICA_WITHOUT_KEY, documented
from app.api.security import Admin
from app.webhook import service
from app.webhook.events import EventType
from app.webhook.schemas import (
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
    out = service.create_endpoint(container, principal=principal, body=body)  # the one answer with the secret
    response.headers["Location"] = f"/webhooks/{out.id}"
    return out


@router.get(
    "/webhooks", operation_id="listWebhooks", response_model=WebhookPage, responses=documented(401, 403, 422, 429)
)
def list_webhooks(container: ContainerDep, principal: Admin, limit: Limit = 50, cursor: Cursor = None) -> WebhookPage:
    """Registered endpoints, newest first."""
    return service.list_endpoints(container, principal=principal, limit=limit, cursor=cursor)


@router.get(
    "/webhooks/{webhook_id}",
    operation_id="getWebhook",
    response_model=WebhookOut,
    responses=documented(401, 403, 404, 422, 429),
)
def get_webhook(webhook_id: uuid.UUID, container: ContainerDep, principal: Admin) -> WebhookOut:
    """One endpoint (without its secret)."""
    return service.get_endpoint(container, principal=principal, endpoint_id=webhook_id)


@router.patch(
    "/webhooks/{webhook_id}",
    operation_id="updateWebhook",
    response_model=WebhookOut,
    responses=documented(400, 401, 403, 404, 413, 422, 429),
)
def update_webhook(webhook_id: uuid.UUID, body: WebhookPatch, container: ContainerDep, principal: Admin) -> WebhookOut:
    """Change the URL, event types or description; enable or disable."""
    return service.update_endpoint(container, principal=principal, endpoint_id=webhook_id, body=body)


@router.post(
    "/webhooks/{webhook_id}/rotate-secret",
    operation_id="rotateWebhookSecret",
    response_model=SecretRotated,
    responses=documented(400, 401, 403, 404, 413, 422, 429, 503, answers={503: REPLICA_WITHOUT_KEY}),
)
def rotate_secret(
    webhook_id: uuid.UUID, body: RotateSecretIn, container: ContainerDep, principal: Admin
) -> SecretRotated:
    """A new signing secret (shown once); both sign deliveries during the grace period."""
    return service.rotate_secret(container, principal=principal, endpoint_id=webhook_id, body=body)


@router.delete(
    "/webhooks/{webhook_id}",
    operation_id="deleteWebhook",
    status_code=204,
    responses=documented(401, 403, 404, 422, 429),
)
def delete_webhook(webhook_id: uuid.UUID, container: ContainerDep, principal: Admin) -> Response:
    """Stop delivering to an endpoint; pending deliveries are cancelled, history stays."""
    service.delete_endpoint(container, principal=principal, endpoint_id=webhook_id)
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
    return service.list_deliveries(container, principal=principal, where=where, limit=limit, cursor=cursor)


@router.get(
    "/webhook-deliveries/{delivery_id}",
    operation_id="getWebhookDelivery",
    response_model=DeliveryOut,
    responses=documented(401, 403, 404, 422, 429),
)
def get_delivery(delivery_id: uuid.UUID, container: ContainerDep, principal: Admin) -> DeliveryOut:
    """One delivery with every attempt."""
    return service.get_delivery(container, principal=principal, delivery_id=delivery_id)


@router.post(
    "/webhook-deliveries/{delivery_id}/redeliver",
    operation_id="redeliverWebhook",
    status_code=202,
    response_model=DeliveryOut,
    responses=documented(401, 403, 404, 409, 422, 429),
)
def redeliver(delivery_id: uuid.UUID, container: ContainerDep, principal: Admin) -> DeliveryOut:
    """Send the event again to the same receiver with the same webhook-id (a new delivery)."""
    return service.redeliver(container, principal=principal, delivery_id=delivery_id)
