"""The outbox: events and their deliveries are written in the transaction of the transition causing them.

Nothing is sent here. The ids of new deliveries are collected on the session; after the commit the
process rings the doorbell for them (:func:`install_doorbell`), and the sweeper finds any whose
doorbell was lost. A crash between the commit and the delivery therefore loses nothing.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable, Iterable
from datetime import datetime
from typing import Any

from sqlalchemy import event, select
from sqlalchemy.orm import Session, sessionmaker

from app.job.history import Transitioned
from app.job.models import Job, ReprotectRequest
from app.job.states import is_terminal
from app.outbound.signing import new_event_id
from app.scopes import ScopeSet
from app.webhook.events import (
    DEFAULT_EVENT_TYPES,
    TERMINAL_EVENT,
    EventType,
    envelope,
    job_data,
    request_data,
)
from app.webhook.models import WebhookDelivery, WebhookEndpoint, WebhookEvent

NEW_DELIVERIES = "webhook_deliveries"
log = logging.getLogger(__name__)


def on_transition(session: Session, moved: Transitioned) -> None:
    """Write the events a job's transition causes (a listener of ``app.job.history``)."""
    job, previous, now = moved.job, moved.previous, moved.at
    current = job.job_state
    endpoints = _live_endpoints(session)
    request = job.request
    if any(EventType.JOB_STATE_CHANGED.value in e.event_types for e in endpoints):
        data = job_data(job, previous_state=previous)
        _emit(session, EventType.JOB_STATE_CHANGED, data, request=request, job=job, now=now, endpoints=endpoints)
    if is_terminal(current):
        data = job_data(job, previous_state=previous)
        _emit(session, TERMINAL_EVENT[current], data, request=request, job=job, now=now, endpoints=endpoints)
    if moved.completed_request_jobs is not None:
        data = request_data(request, moved.completed_request_jobs, at=now)
        _emit(session, EventType.REQUEST_COMPLETED, data, request=request, job=None, now=now, endpoints=endpoints)


def _live_endpoints(session: Session) -> list[WebhookEndpoint]:
    return list(
        session.scalars(
            select(WebhookEndpoint).where(WebhookEndpoint.enabled.is_(True), WebhookEndpoint.deleted_at.is_(None))
        )
    )


def _emit(
    session: Session,
    event_type: EventType,
    data: dict[str, Any],
    *,
    request: ReprotectRequest,
    job: Job | None,
    now: datetime,
    endpoints: list[WebhookEndpoint],
) -> WebhookEvent:
    vaults = [job.vault_id] if job else [j.vault_id for j in request.jobs]
    callback = request.callback_url is not None and event_type in DEFAULT_EVENT_TYPES
    return emit(
        session,
        event_type,
        data,
        request_id=request.id,
        job=job,
        vault_ids=vaults,
        now=now,
        endpoints=endpoints,
        to_callback=callback,
    )


def emit(
    session: Session,
    event_type: EventType,
    data: dict[str, Any],
    *,
    request_id: uuid.UUID | None,
    vault_ids: list[str],
    campaign_id: uuid.UUID | None = None,
    now: datetime,
    job: Job | None = None,
    endpoints: list[WebhookEndpoint] | None = None,
    to_callback: bool = False,
) -> WebhookEvent:
    """Record an event (about ``request_id``'s or ``campaign_id``'s VMs in ``vault_ids``) and one pending delivery
    per live endpoint that subscribes to its type and whose scopes cover every one of those vaults (and, when
    ``to_callback``, the request's callback)."""
    row = WebhookEvent(
        id=new_event_id(),
        type=event_type.value,
        created_at=now,
        payload=envelope(event_type, at=now, data=data),
        request_id=request_id,
        campaign_id=campaign_id,
        job_id=job.id if job else None,
        job_attempt=job.attempt if job else None,
    )
    session.add(row)
    live = _live_endpoints(session) if endpoints is None else endpoints
    receivers: list[WebhookEndpoint | None] = [
        e for e in live if event_type.value in e.event_types and _hears_of(e, vault_ids)
    ]
    if to_callback:
        receivers.append(None)
    for endpoint in receivers:
        add_delivery(session, row, endpoint_id=endpoint.id if endpoint else None, now=now)
    return row


def _hears_of(endpoint: WebhookEndpoint, vault_ids: list[str]) -> bool:
    scopes = ScopeSet.parse(endpoint.scopes)
    return all(scopes.covers(vault_id) for vault_id in vault_ids)


def add_delivery(
    session: Session,
    event_row: WebhookEvent,
    *,
    endpoint_id: uuid.UUID | None,
    now: datetime,
    redelivery_of: uuid.UUID | None = None,
) -> WebhookDelivery:
    """A pending delivery of ``event_row`` to an endpoint (or, with none, to the request's callback)."""
    delivery = WebhookDelivery(
        id=uuid.uuid4(),
        event_id=event_row.id,
        endpoint_id=endpoint_id,
        request_id=event_row.request_id,
        campaign_id=event_row.campaign_id,
        job_id=event_row.job_id,
        event_type=event_row.type,
        status="pending",
        attempts=0,
        next_attempt_at=now,
        created_at=now,
        redelivery_of=redelivery_of,
    )
    session.add(delivery)
    session.info.setdefault(NEW_DELIVERIES, []).append(delivery.id)
    return delivery


def install_doorbell(sessions: sessionmaker[Session], ring: Callable[[Iterable[uuid.UUID]], object]) -> None:
    """After each commit, ring for the deliveries it created; a rollback forgets them."""

    def rang(session: Session) -> None:
        ids = session.info.pop(NEW_DELIVERIES, None)
        if ids:
            try:
                ring(ids)
            except Exception:  # the sweeper finds them anyway
                log.warning("could not ring for %d new webhook deliveries", len(ids), exc_info=True)

    def forgot(session: Session, _previous_transaction: object = None) -> None:
        session.info.pop(NEW_DELIVERIES, None)

    event.listen(sessions, "after_commit", rang)
    event.listen(sessions, "after_soft_rollback", forgot)
