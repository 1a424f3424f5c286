"""The webhook domain's use cases, one function each: endpoints, deliveries, one delivery attempt, the sweep.

Each opens its own units of work (never one across a receiver's HTTP call) and returns API schemas;
new deliveries are rung for after their commit by the session hook the composition root installs.
"""

from __future__ import annotations

import logging
import uuid
from datetime import datetime
from typing import Protocol

from sqlalchemy.orm import Session, sessionmaker

from app.auth.principal import Principal
from app.db import transaction, utcnow
from app.outbound.transport import WebhookSender
from app.outbound.vetting import vet_url
from app.queue import Doorbell
from app.settings import Settings
from app.webhook import delivery, registry
from app.webhook.registry import DeliveryFilter
from app.webhook.schemas import (
    DeliveryOut,
    DeliveryPage,
    RotateSecretIn,
    SecretRotated,
    WebhookCreated,
    WebhookIn,
    WebhookOut,
    WebhookPage,
    WebhookPatch,
)

log = logging.getLogger(__name__)
__all__ = ["DeliveryFilter"]


class Deps(Protocol):
    """What the webhook use cases need; the container built by ``app.bootstrap`` provides it."""

    @property
    def settings(self) -> Settings: ...

    @property
    def sessions(self) -> sessionmaker[Session]: ...

    @property
    def sender(self) -> WebhookSender: ...

    @property
    def doorbell(self) -> Doorbell: ...


def create_endpoint(deps: Deps, *, principal: Principal, body: WebhookIn) -> WebhookCreated:
    """Register a receiver; the answer carries its signing secret, shown this once."""
    vet_url(body.url, deps.settings.webhook)  # resolves the host: before, not inside, the transaction
    with transaction(deps.sessions) as session:
        endpoint = registry.create_endpoint(
            session, body, settings=deps.settings.webhook, now=utcnow(), principal=principal
        )
        return WebhookCreated.model_validate(endpoint)


def list_endpoints(deps: Deps, *, principal: Principal, limit: int, cursor: str | None) -> WebhookPage:
    """Registered endpoints the caller may see, newest first."""
    with transaction(deps.sessions) as session:
        rows, next_cursor = registry.list_endpoints(session, principal, limit=limit, cursor=cursor)
        return WebhookPage(items=[WebhookOut.model_validate(e) for e in rows], next_cursor=next_cursor)


def get_endpoint(deps: Deps, *, principal: Principal, endpoint_id: uuid.UUID) -> WebhookOut:
    """One endpoint (without its secret)."""
    with transaction(deps.sessions) as session:
        return WebhookOut.model_validate(registry.get_endpoint(session, endpoint_id, principal))


def update_endpoint(deps: Deps, *, principal: Principal, endpoint_id: uuid.UUID, body: WebhookPatch) -> WebhookOut:
    """Change the URL, event types or description; enable or disable."""
    if body.url is not None:
        vet_url(body.url, deps.settings.webhook)  # resolves the host: before, not inside, the transaction
    with transaction(deps.sessions) as session:
        endpoint = registry.update_endpoint(
            session, endpoint_id, body, principal, settings=deps.settings.webhook, now=utcnow()
        )
        return WebhookOut.model_validate(endpoint)


def rotate_secret(deps: Deps, *, principal: Principal, endpoint_id: uuid.UUID, body: RotateSecretIn) -> SecretRotated:
    """A new signing secret (shown once); both sign deliveries during the grace period."""
    with transaction(deps.sessions) as session:
        endpoint = registry.rotate_secret(
            session, endpoint_id, body, principal, settings=deps.settings.webhook, now=utcnow()
        )
        return SecretRotated(
            id=endpoint.id, secret=endpoint.secret, previous_secret_expires_at=endpoint.previous_secret_expires_at
        )


def delete_endpoint(deps: Deps, *, principal: Principal, endpoint_id: uuid.UUID) -> None:
    """Stop delivering to an endpoint; pending deliveries are cancelled, history stays."""
    with transaction(deps.sessions) as session:
        registry.delete_endpoint(session, endpoint_id, principal, now=utcnow())


def list_deliveries(
    deps: Deps, *, principal: Principal, where: DeliveryFilter, limit: int, cursor: str | None
) -> DeliveryPage:
    """Deliveries with their attempts, newest first, filtered."""
    with transaction(deps.sessions) as session:
        rows, next_cursor = registry.list_deliveries(session, principal, where=where, limit=limit, cursor=cursor)
        return DeliveryPage(items=[DeliveryOut.model_validate(d) for d in rows], next_cursor=next_cursor)


def get_delivery(deps: Deps, *, principal: Principal, delivery_id: uuid.UUID) -> DeliveryOut:
    """One delivery with every attempt."""
    with transaction(deps.sessions) as session:
        return DeliveryOut.model_validate(registry.get_delivery(session, delivery_id, principal))


def redeliver(deps: Deps, *, principal: Principal, delivery_id: uuid.UUID) -> DeliveryOut:
    """Send the event again to the same receiver with the same webhook-id (a new delivery)."""
    with transaction(deps.sessions) as session:
        return DeliveryOut.model_validate(registry.redeliver(session, delivery_id, principal, now=utcnow()))


def deliver(deps: Deps, *, delivery_id: uuid.UUID, worker: str) -> delivery.Delivered:
    """Make one attempt of a due delivery if nobody else holds it; ring at once for a retry due soon."""
    settings = deps.settings.webhook
    with transaction(deps.sessions) as session:
        outbound = delivery.claim(
            session,
            delivery_id=delivery_id,
            worker=worker,
            now=utcnow(),
            settings=settings,
            base_url=deps.settings.api.public_base_url,
        )
    if outbound is None:
        return delivery.Delivered(delivery_id=delivery_id, ran=False)
    started, result = delivery.send(deps.sender, outbound, delivery_id=delivery_id)  # no transaction open
    with transaction(deps.sessions) as session:
        done = delivery.record(
            session,
            delivery_id=delivery_id,
            worker=worker,
            started=started,
            result=result,
            settings=settings,
            now=utcnow(),
        )
    if done.due_in is not None and done.due_in < deps.settings.broker.sweep_interval_seconds:
        deps.doorbell.ring_deliveries([delivery_id], countdown=done.due_in)
    return done


def sweep(deps: Deps, *, now: datetime, redispatch_after: float | None = None) -> list[uuid.UUID]:
    """Ring for every pending delivery that is due, or whose worker died holding its lease."""
    wait = deps.settings.job.redispatch_after_seconds if redispatch_after is None else redispatch_after
    with transaction(deps.sessions) as session:
        due = delivery.DELIVERIES.take_due(session, now=now, redispatch_after=wait)
    if due:
        sent = deps.doorbell.ring_deliveries(due)
        if sent < len(due):  # the broker is down: ring for the rest at the next sweep, not as if unanswered
            with transaction(deps.sessions) as session:
                delivery.DELIVERIES.forget_dispatch(session, *due[sent:])
        log.info("sweeper rang for %d of %d due webhook deliveries", sent, len(due))
    return due
