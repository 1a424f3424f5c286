"""Webhook deliveries on the shared lease kernel: a failed attempt is due again after the recorded backoff
(exponential, ±25 % jitter, inside the retry window), and a worker whose lease was taken over records nothing."""

from __future__ import annotations

import uuid
from datetime import timedelta

import pytest
from sqlalchemy import select, update

from app.db import transaction, utcnow
from app.webhook import delivery
from app.webhook import service as webhooks
from app.webhook.models import WebhookAttempt, WebhookDelivery
from tests.drive import drive
from tests.receiver import running_receiver


@pytest.fixture
def receiver():
    with running_receiver() as r:
        yield r


def _one_delivery(api, container, demo, receiver) -> uuid.UUID:
    assert api.post("/webhooks", json={"url": receiver.url}).status_code == 201
    assert api.post("/reprotect", json={"vms": [{"item_id": demo["committed"][0]["id"]}]}).status_code == 202
    drive(container)
    with transaction(container.sessions) as session:
        return session.scalars(
            select(WebhookDelivery.id).where(WebhookDelivery.event_type == "reprotect.job.succeeded")
        ).one()


def _make_due(container, delivery_id: uuid.UUID) -> None:
    with transaction(container.sessions) as session:
        session.execute(
            update(WebhookDelivery).where(WebhookDelivery.id == delivery_id).values(next_attempt_at=utcnow())
        )


def _recorded_wait(container, delivery_id: uuid.UUID) -> tuple[int, float]:
    with transaction(container.sessions) as session:
        delivery = session.get_one(WebhookDelivery, delivery_id)
        last = session.scalars(
            select(WebhookAttempt).where(WebhookAttempt.delivery_id == delivery_id).order_by(WebhookAttempt.id.desc())
        ).first()
        return delivery.attempts, (delivery.next_attempt_at - last.at).total_seconds()


def test_failed_attempts_back_off_exponentially_with_jitter_as_recorded(api, container, demo, receiver):
    settings = container.settings.webhook  # base 0.05 s, ceiling 0.2 s in the tests
    receiver.answer(500, 503, 502, 500)
    delivery_id = _one_delivery(api, container, demo, receiver)
    for attempt in (1, 2, 3, 4):
        _make_due(container, delivery_id)
        assert webhooks.deliver(container, delivery_id=delivery_id, worker="w1").status == "pending"
        attempts, wait = _recorded_wait(container, delivery_id)
        ceiling = min(settings.backoff_max_seconds, settings.backoff_base_seconds * 2 ** (attempt - 1))
        assert attempts == attempt
        # The wait runs from the attempt's start; the send itself took a little of it.
        assert ceiling * 0.75 - 0.5 <= wait <= ceiling * 1.25 + 0.5, (attempt, wait)
    _make_due(container, delivery_id)
    assert webhooks.deliver(container, delivery_id=delivery_id, worker="w1").status == "delivered"


def test_an_attempt_past_the_retry_window_fails_the_delivery_for_good(api, container, demo, receiver):
    receiver.answer(500)
    delivery_id = _one_delivery(api, container, demo, receiver)
    with transaction(container.sessions) as session:  # created long ago: the window is spent
        session.execute(
            update(WebhookDelivery)
            .where(WebhookDelivery.id == delivery_id)
            .values(created_at=utcnow() - timedelta(seconds=container.settings.webhook.retry_window_seconds))
        )
    done = webhooks.deliver(container, delivery_id=delivery_id, worker="w1")
    assert done.status == "failed"
    with transaction(container.sessions) as session:
        failed = session.get_one(WebhookDelivery, delivery_id)
        assert failed.next_attempt_at is None
        assert "retry window spent" in failed.last_error


def test_a_worker_whose_lease_was_taken_over_records_no_attempt(api, container, demo, receiver):
    receiver.answer(500)
    delivery_id = _one_delivery(api, container, demo, receiver)
    with transaction(container.sessions) as session:  # another worker holds it now
        session.execute(
            update(WebhookDelivery)
            .where(WebhookDelivery.id == delivery_id)
            .values(lease_owner="other", lease_until=utcnow() + timedelta(seconds=60))
        )
    done = webhooks.deliver(container, delivery_id=delivery_id, worker="w1")
    assert not done.ran  # it could not claim: nothing sent, nothing recorded
    assert receiver.received == []
    with transaction(container.sessions) as session:
        held = session.get_one(WebhookDelivery, delivery_id)
        assert (held.attempts, held.lease_owner, held.status) == (0, "other", "pending")


def test_an_attempt_finished_after_another_worker_took_the_lease_is_not_recorded(api, container, demo, receiver):
    receiver.answer(500)
    delivery_id = _one_delivery(api, container, demo, receiver)
    settings = container.settings.webhook
    with transaction(container.sessions) as session:
        outbound = delivery.claim(session, delivery_id=delivery_id, worker="A", now=utcnow(), settings=settings)
    assert outbound is not None
    started, result = delivery.send(container.sender, outbound, delivery_id=delivery_id)  # A's send, slow
    with transaction(container.sessions) as session:  # meanwhile A's lease ran out and B took the delivery
        session.execute(update(WebhookDelivery).where(WebhookDelivery.id == delivery_id).values(lease_owner="B"))
    with transaction(container.sessions) as session:
        late = delivery.record(
            session,
            delivery_id=delivery_id,
            worker="A",
            started=started,
            result=result,
            settings=settings,
            now=utcnow(),
        )
    assert late.status == "pending"
    with transaction(container.sessions) as session:
        held = session.get_one(WebhookDelivery, delivery_id)
        assert (held.attempts, held.lease_owner) == (0, "B")  # B's word stands; A recorded nothing
