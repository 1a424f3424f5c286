"""Endpoints and deliveries in the database, in the caller's unit of work: register, change, list, redeliver."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import ColumnElement, and_, func, or_, select, true
from sqlalchemy.orm import Session, selectinload

from app.auth.principal import Principal
from app.auth.visibility import scopes_within
from app.errors import Conflict, NotFound
from app.job.visibility import request_visible
from app.outbound.signing import new_secret
from app.pagination import page, visible_page
from app.sealed.envelope import DoesNotOpen
from app.settings import WebhookSettings
from app.webhook import delivery as states
from app.webhook.models import WebhookDelivery, WebhookEndpoint, WebhookEvent
from app.webhook.outbox import add_delivery
from app.webhook.schemas import RotateSecretIn, WebhookIn, WebhookPatch


def create_endpoint(
    session: Session, body: WebhookIn, *, settings: WebhookSettings, now: datetime, principal: Principal
) -> WebhookEndpoint:
    """Register a receiver with a fresh secret (the caller shows it once); it hears of the caller's scopes only."""
    live = session.scalar(select(func.count()).select_from(WebhookEndpoint).where(WebhookEndpoint.deleted_at.is_(None)))
    if (live or 0) >= settings.max_endpoints:
        raise Conflict(f"At most {settings.max_endpoints} endpoints may be registered.", code="too_many_endpoints")
    endpoint = WebhookEndpoint(
        id=uuid.uuid4(),
        url=body.url,  # vetted by the caller, outside any transaction (it resolves the host)
        description=body.description,
        event_types=_unique(body.event_types),
        secret=new_secret(),
        enabled=True,
        scopes=principal.scopes.as_strings(),
        created_by=principal.id,
        created_at=now,
        updated_at=now,
    )
    session.add(endpoint)
    return endpoint


def _unique(types: Sequence[str]) -> list[str]:
    return list(dict.fromkeys(str(t) for t in types))


def get_endpoint(session: Session, endpoint_id: uuid.UUID, principal: Principal) -> WebhookEndpoint:
    """A live endpoint the caller may see, or ``NotFound``."""
    endpoint = session.get(WebhookEndpoint, endpoint_id)
    if endpoint is None or endpoint.deleted_at is not None or not scopes_within(endpoint.scopes, principal):
        raise NotFound(f"No webhook endpoint {endpoint_id}.", code="webhook_not_found")
    return endpoint


def list_endpoints(
    session: Session, principal: Principal, *, limit: int, cursor: str | None
) -> tuple[list[WebhookEndpoint], str | None]:
    """Live endpoints the caller may see, newest first (scopes are checked in Python; the next cursor is
    a visible endpoint's)."""
    query = select(WebhookEndpoint).where(WebhookEndpoint.deleted_at.is_(None))
    return visible_page(
        session,
        query,
        created=WebhookEndpoint.created_at,
        key=WebhookEndpoint.id,
        limit=limit,
        cursor=cursor,
        visible=lambda endpoint: scopes_within(endpoint.scopes, principal),
    )


def update_endpoint(
    session: Session,
    endpoint_id: uuid.UUID,
    body: WebhookPatch,
    principal: Principal,
    *,
    settings: WebhookSettings,
    now: datetime,
) -> WebhookEndpoint:
    """Change what was given; re-enabling clears the reason it was disabled."""
    endpoint = get_endpoint(session, endpoint_id, principal)
    if body.url is not None:
        endpoint.url = body.url  # vetted by the caller, outside any transaction
    if body.event_types is not None:
        endpoint.event_types = _unique(body.event_types)
    if body.description is not None:
        endpoint.description = body.description
    if body.enabled is True:
        endpoint.enabled, endpoint.disabled_reason = True, None
    elif body.enabled is False:
        states.disable_endpoint(session, endpoint, now=now, reason="disabled by an operator")
    endpoint.updated_at = now
    return endpoint


def rotate_secret(
    session: Session,
    endpoint_id: uuid.UUID,
    body: RotateSecretIn,
    principal: Principal,
    *,
    settings: WebhookSettings,
    now: datetime,
) -> WebhookEndpoint:
    """A new secret; the current one keeps signing too for the grace period (unless it no longer opens:
    a new secret is then the remedy, and the broken one is dropped)."""
    endpoint = get_endpoint(session, endpoint_id, principal)
    grace = settings.rotation_grace_seconds if body.grace_seconds is None else body.grace_seconds
    try:
        current = endpoint.secret if grace > 0 else None
    except DoesNotOpen:
        current, grace = None, 0
    endpoint.previous_secret = current
    endpoint.previous_secret_expires_at = now + timedelta(seconds=grace) if grace > 0 else None
    endpoint.secret = new_secret()
    endpoint.updated_at = now
    return endpoint


def delete_endpoint(session: Session, endpoint_id: uuid.UUID, principal: Principal, *, now: datetime) -> None:
    """Stop delivering to an endpoint; its delivery history stays readable."""
    endpoint = get_endpoint(session, endpoint_id, principal)
    states.disable_endpoint(session, endpoint, now=now, reason="deleted")
    endpoint.deleted_at = now


@dataclass(frozen=True)
class DeliveryFilter:
    """What ``GET /webhook-deliveries`` can filter on."""

    status: str | None = None
    job_id: uuid.UUID | None = None
    request_id: uuid.UUID | None = None
    endpoint_id: uuid.UUID | None = None
    event_type: str | None = None


def list_deliveries(
    session: Session, principal: Principal, *, where: DeliveryFilter, limit: int, cursor: str | None
) -> tuple[list[WebhookDelivery], str | None]:
    """Deliveries matching ``where`` about requests the caller may see, newest first."""
    query = (
        select(WebhookDelivery)
        .options(selectinload(WebhookDelivery.attempt_log))
        .where(_delivery_visible(session, principal))
    )
    if where.status:
        query = query.where(WebhookDelivery.status == where.status)
    if where.job_id:
        query = query.where(WebhookDelivery.job_id == where.job_id)
    if where.request_id:
        query = query.where(WebhookDelivery.request_id == where.request_id)
    if where.endpoint_id:
        query = query.where(WebhookDelivery.endpoint_id == where.endpoint_id)
    if where.event_type:
        query = query.where(WebhookDelivery.event_type == where.event_type)
    return page(session, query, created=WebhookDelivery.created_at, key=WebhookDelivery.id, limit=limit, cursor=cursor)


def _delivery_visible(session: Session, principal: Principal) -> ColumnElement[bool]:
    # About a request the caller may see, and to a receiver it may see (the request's callback, or an
    # endpoint whose scopes lie inside the caller's): attempts name the receiver's host and answers.
    if principal.scopes.is_unrestricted:
        return true()
    endpoints = session.execute(select(WebhookEndpoint.id, WebhookEndpoint.scopes)).all()
    visible = [endpoint_id for endpoint_id, scopes in endpoints if scopes_within(scopes, principal)]
    return and_(
        # A campaign's event (no request) is seen through its endpoint: one whose scopes cover the campaign.
        or_(WebhookDelivery.request_id.is_(None), request_visible(WebhookDelivery.request_id, principal.scopes)),
        or_(WebhookDelivery.endpoint_id.is_(None), WebhookDelivery.endpoint_id.in_(visible)),
    )


def get_delivery(session: Session, delivery_id: uuid.UUID, principal: Principal) -> WebhookDelivery:
    """A delivery (with its attempts) about a request the caller may see, or ``NotFound``."""
    found = session.scalars(
        select(WebhookDelivery)
        .options(selectinload(WebhookDelivery.attempt_log))
        .where(WebhookDelivery.id == delivery_id, _delivery_visible(session, principal))
    ).one_or_none()
    if found is None:
        raise NotFound(f"No webhook delivery {delivery_id}.", code="delivery_not_found")
    return found


def redeliver(session: Session, delivery_id: uuid.UUID, principal: Principal, *, now: datetime) -> WebhookDelivery:
    """Send a delivery's event again to the same receiver, with the same webhook-id, as a new delivery."""
    original = get_delivery(session, delivery_id, principal)
    if original.status == states.PENDING:
        raise Conflict("This delivery is still being attempted.", code="delivery_pending")
    if original.endpoint_id is not None:
        endpoint = get_endpoint(session, original.endpoint_id, principal)
        if not endpoint.enabled:
            raise Conflict(
                f"Endpoint {endpoint.id} is disabled ({endpoint.disabled_reason}); enable it first "
                'with PATCH /webhooks/{id} {"enabled": true}.',
                code="webhook_disabled",
            )
    event_row = session.get_one(WebhookEvent, original.event_id)
    return add_delivery(session, event_row, endpoint_id=original.endpoint_id, now=now, redelivery_of=original.id)
