"""Delivering one webhook: claim its lease, sign and send it (no transaction open), record the attempt.

``app.webhook.service.deliver`` opens the units of work; these functions run inside them. Only a 2xx
counts as delivered. ``410 Gone`` disables the endpoint (its pending deliveries are
cancelled). Anything else is retried with exponential backoff and jitter until the retry window,
counted from the delivery's creation, is spent. A worker dying mid-send leaves a lease that expires,
and the same delivery (same ``webhook-id``) is sent again: receivers deduplicate on that id. A stored secret
that does not open (altered, or copied from another row) fails its delivery with that reason, unsent; one
sealed under a key this process lacks, or in a newer format, waits for a process that reads it (a rolling
key rollout or upgrade).
"""

from __future__ import annotations

import json
import logging
import time
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import update
from sqlalchemy.orm import Session

from app.db import utcnow
from app.job.models import ReprotectRequest
from app.leases import Backoff, LeasedTable
from app.metrics import webhooks as webhook_metrics
from app.outbound.signing import signed_headers
from app.outbound.transport import SendResult, WebhookSender
from app.sealed.envelope import DoesNotOpen, NewerFormat
from app.sealed.keyring import UnknownKey
from app.settings import WebhookSettings
from app.webhook.models import WebhookAttempt, WebhookDelivery, WebhookEndpoint
from app.webhook.payloads import absolute_links

log = logging.getLogger(__name__)
PENDING, DELIVERED, FAILED, CANCELLED = "pending", "delivered", "failed", "cancelled"
STATUSES = (PENDING, DELIVERED, FAILED, CANCELLED)

DELIVERIES = LeasedTable(
    id=WebhookDelivery.id,
    due_at=WebhookDelivery.next_attempt_at,
    lease_owner=WebhookDelivery.lease_owner,
    lease_until=WebhookDelivery.lease_until,
    dispatched_at=WebhookDelivery.dispatched_at,
    unanswered_rings=WebhookDelivery.unanswered_rings,
    live=lambda: WebhookDelivery.status == PENDING,
)


def retry_policy(settings: WebhookSettings) -> Backoff:
    """Exponential in the attempts made, capped, with ±25 % jitter so a failing fleet spreads out."""
    return Backoff(
        base_seconds=settings.backoff_base_seconds, ceiling_seconds=settings.backoff_max_seconds, jitter=(0.75, 1.25)
    )


@dataclass(frozen=True)
class Outbound:
    """What one attempt sends: read under the lease, sent outside any transaction."""

    url: str
    event_id: str
    body: bytes
    secrets: list[str]


@dataclass(frozen=True)
class Delivered:
    """The outcome of one call: whether an attempt ran, the status after it, and when it is due again."""

    delivery_id: uuid.UUID
    ran: bool
    status: str | None = None
    due_in: float | None = None


def send(sender: WebhookSender, outbound: Outbound, *, delivery_id: uuid.UUID) -> tuple[datetime, SendResult]:
    """Sign and send one attempt (no transaction open); when it started and what came back."""
    started = utcnow()
    headers = signed_headers(
        outbound.secrets, message_id=outbound.event_id, timestamp=int(time.time()), body=outbound.body
    )
    try:
        result = sender.post(outbound.url, outbound.body, headers)
    except Exception as exc:  # the sender never raises by design; a bug must still end up recorded and retried
        log.exception("webhook delivery %s: unexpected error while sending", delivery_id)
        result = SendResult(
            status_code=None,
            duration_ms=(utcnow() - started).total_seconds() * 1000,
            error_code="internal_error",
            error=f"unexpected error in the service: {type(exc).__name__}",
        )
    return started, result


def claim(
    session: Session,
    *,
    delivery_id: uuid.UUID,
    worker: str,
    now: datetime,
    settings: WebhookSettings,
    base_url: str | None = None,
) -> Outbound | None:
    """Take the delivery's lease if it is pending, due and free; what to send (None: nothing to send)."""
    if not DELIVERIES.claim(session, delivery_id, worker=worker, now=now, lease_seconds=settings.lease_seconds):
        return None
    delivery = session.get_one(WebhookDelivery, delivery_id)
    endpoint = delivery.endpoint
    if endpoint is not None and (not endpoint.enabled or endpoint.deleted_at is not None):
        _finish(delivery, CANCELLED, now=now, error="the endpoint was disabled or deleted before delivery")
        return None
    try:
        url, secrets = _receiver(session, delivery, endpoint, now=now)
    except DoesNotOpen as exc:  # never signs with a secret that is not this receiver's
        log.error("webhook delivery %s not sent: %s", delivery_id, exc)
        _finish(delivery, FAILED, now=now, error=f"not sent: {exc} (give the receiver a new secret)")
        return None
    except (UnknownKey, NewerFormat) as exc:  # another process, with that key or a newer release, may send it
        log.warning("webhook delivery %s left for another process: %s", delivery_id, exc)
        _retry_later(delivery, now=now, settings=settings, reason=f"not sent by {worker}: {exc}")
        return None
    if url is None:
        _finish(delivery, CANCELLED, now=now, error="the request no longer has a callback URL")
        return None
    payload = absolute_links(delivery.event.payload, base_url)  # links absolute once public_base_url is set
    body = json.dumps(payload, separators=(",", ":")).encode()
    return Outbound(url=url, event_id=delivery.event_id, body=body, secrets=secrets)


def _receiver(
    session: Session, delivery: WebhookDelivery, endpoint: WebhookEndpoint | None, *, now: datetime
) -> tuple[str | None, list[str]]:
    if endpoint is not None:
        secrets = [endpoint.secret]
        expires = endpoint.previous_secret_expires_at
        if expires is not None and expires > now:
            previous = _previous_secret(endpoint, delivery_id=delivery.id)
            if previous:
                secrets.append(previous)  # rotation grace: receivers may still hold the old one
        return endpoint.url, secrets
    if delivery.request_id is None:  # a campaign's event goes to endpoints only
        return None, []
    request = session.get_one(ReprotectRequest, delivery.request_id)
    if not request.callback_url or not request.callback_secret:
        return None, []
    return request.callback_url, [request.callback_secret]


def _previous_secret(endpoint: WebhookEndpoint, *, delivery_id: uuid.UUID) -> str | None:
    """The secret before the last rotation; None if it does not open: the current one (which opened) signs alone,
    and receivers have had it since the rotation."""
    try:
        return endpoint.previous_secret
    except DoesNotOpen as exc:  # only the class: the message names no secret, but a log is no place to dig
        log.error(
            "webhook delivery %s signed with the current secret only: the previous one does not open (%s)",
            delivery_id,
            type(exc).__name__,
        )
        return None


def record(
    session: Session,
    *,
    delivery_id: uuid.UUID,
    worker: str,
    started: datetime,
    result: SendResult,
    settings: WebhookSettings,
    now: datetime,
) -> Delivered:
    """Record one attempt if this worker still holds the delivery; settle it or schedule the next."""
    delivery = DELIVERIES.held_row(session, delivery_id, worker=worker, lock=True)
    if delivery is None:  # lease lost meanwhile, or the delivery was cancelled
        return Delivered(delivery_id=delivery_id, ran=True, status=session.get_one(WebhookDelivery, delivery_id).status)
    delivery.attempts += 1
    session.add(
        WebhookAttempt(
            delivery_id=delivery.id,
            number=delivery.attempts,
            at=started,
            duration_ms=result.duration_ms,
            status_code=result.status_code,
            error_code=result.error_code,
            error=result.error,
            response_excerpt=result.response_excerpt,
        )
    )
    delivery.last_status_code = result.status_code
    delivery.last_error = None if result.ok else _describe(result)
    due_in = _settle(session, delivery, result, now=now, settings=settings)
    webhook_metrics.attempted(delivery, now=now)
    return Delivered(delivery_id=delivery_id, ran=True, status=delivery.status, due_in=due_in)


def _settle(
    session: Session, delivery: WebhookDelivery, result: SendResult, *, now: datetime, settings: WebhookSettings
) -> float | None:
    if result.ok:
        _finish(delivery, DELIVERED, now=now)
        return None
    if result.status_code == 410:
        if delivery.endpoint is not None:
            disable_endpoint(session, delivery.endpoint, now=now, reason="the receiver answered 410 Gone")
        _finish(delivery, FAILED, now=now, error="the receiver answered 410 Gone: no further attempts")
        return None
    return _due_again(delivery, step=delivery.attempts, now=now, settings=settings, failure=_describe(result))


def _retry_later(delivery: WebhookDelivery, *, now: datetime, settings: WebhookSettings, reason: str) -> None:
    """Nothing was sent: due again after the next backoff step, unless that is past the retry window. Each
    skipped try grows the step (a process without the key neither retries nor warns every few seconds), but
    is not an attempt."""
    delivery.skipped_tries += 1
    delivery.last_error = reason
    _due_again(delivery, step=delivery.attempts + delivery.skipped_tries, now=now, settings=settings, failure=reason)


def _due_again(
    delivery: WebhookDelivery, *, step: int, now: datetime, settings: WebhookSettings, failure: str
) -> float | None:
    """Due again after the backoff's ``step``-th wait (returned), or failed with ``failure`` once that wait
    would end past the retry window (None)."""
    wait = retry_policy(settings).delay(step)
    if now + timedelta(seconds=wait) > delivery.created_at + timedelta(seconds=settings.retry_window_seconds):
        _finish(delivery, FAILED, now=now, error=f"{failure}; retry window spent, giving up")
        return None
    delivery.next_attempt_at = now + timedelta(seconds=wait)
    DELIVERIES.let_go(delivery)
    return wait


def disable_endpoint(session: Session, endpoint: WebhookEndpoint, *, now: datetime, reason: str) -> None:
    """Stop calling ``endpoint``: mark it disabled and cancel what is still pending for it."""
    endpoint.enabled = False
    endpoint.disabled_reason = reason
    endpoint.updated_at = now
    session.execute(
        update(WebhookDelivery)
        .where(WebhookDelivery.endpoint_id == endpoint.id, WebhookDelivery.status == PENDING)
        .values(status=CANCELLED, finished_at=now, last_error=f"endpoint disabled: {reason}", lease_until=None)
        .execution_options(synchronize_session=False)
    )


def _finish(delivery: WebhookDelivery, status: str, *, now: datetime, error: str | None = None) -> None:
    delivery.status = status
    delivery.finished_at = now
    delivery.next_attempt_at = None
    delivery.lease_owner = delivery.lease_until = None
    if error:
        delivery.last_error = error


def _describe(result: SendResult) -> str:
    if result.status_code is not None:
        return f"the receiver answered HTTP {result.status_code}"
    return f"{result.error_code}: {result.error}"
