"""Runs the real worker code (sweeper queries, job steps, webhook deliveries) in the test's process."""

from __future__ import annotations

import time
import uuid

from sqlalchemy import func, select

from app.bootstrap import Container
from app.db import transaction, utcnow
from app.job import runner, schedule
from app.job.models import Job
from app.job.states import ACTIVE_STATES
from app.webhooks import delivery
from app.webhooks.models import WebhookDelivery


def active_ids(box: Container) -> set[uuid.UUID]:
    """Ids of jobs still active."""
    with transaction(box.sessions) as session:
        return set(session.scalars(select(Job.id).where(Job.state.in_([s.value for s in ACTIVE_STATES]))))


def drive(
    box: Container, *, timeout: float = 60.0, until_state: str | None = None, job_id: uuid.UUID | None = None
) -> None:
    """Sweep and advance due jobs until none is active (or ``job_id`` reaches ``until_state``)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with transaction(box.sessions) as session:
            due = schedule.take_due(session, now=utcnow(), redispatch_after=0)
        for due_id in due:
            runner.advance(
                box.sessions, cloud=box.cloud, job_id=due_id, worker="test-worker", settings=box.settings.job
            )
        if until_state and job_id:
            with transaction(box.sessions) as session:
                if session.get(Job, job_id).state == until_state:
                    return
        elif not active_ids(box):
            return
        time.sleep(0.05)
    raise AssertionError(f"jobs still active after {timeout}s: {active_ids(box)}")


def deliver_due(box: Container, *, timeout: float = 20.0, until: int | None = None) -> None:
    """Run the real delivery code on due webhook deliveries until none is pending (or ``until`` ran)."""
    deadline = time.monotonic() + timeout
    ran = 0
    while time.monotonic() < deadline:
        with transaction(box.sessions) as session:
            due = delivery.take_due(session, now=utcnow(), redispatch_after=0)
            pending = session.scalar(
                select(func.count()).select_from(WebhookDelivery).where(WebhookDelivery.status == delivery.PENDING)
            )
        for delivery_id in due:
            done = delivery.deliver(
                box.sessions, box.sender, delivery_id=delivery_id, worker="test-worker", settings=box.settings.webhook
            )
            ran += int(done.ran)
        if not pending or (until is not None and ran >= until):
            return
        time.sleep(0.02)
    raise AssertionError(f"webhook deliveries still pending after {timeout}s")
