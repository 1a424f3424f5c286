"""Drives the worker's use cases in the test's process: the same ``sweep`` and ``advance`` (and, for
webhooks, ``sweep`` and ``deliver``; for campaigns, their ``sweep``) the Celery tasks call, without a broker or a
worker process."""

from __future__ import annotations

import time
import uuid

from sqlalchemy import func, select

from app.bootstrap import Container
from app.campaign import engine as campaigns
from app.campaign.models import Campaign
from app.db import transaction, utcnow
from app.job import service as jobs
from app.job.models import Job
from app.job.states import ACTIVE_STATES
from app.webhook import delivery
from app.webhook import service as webhooks
from app.webhook.models import WebhookDelivery


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
        # Every sweep rings for whatever is due: this loop stands in for the broker's deliveries.
        for due_id in jobs.sweep(box, now=utcnow(), redispatch_after=0):
            jobs.advance(box, job_id=due_id, worker="test-worker")
        if until_state and job_id:
            with transaction(box.sessions) as session:
                if session.get(Job, job_id).state == until_state:
                    return
        elif not active_ids(box):
            return
        time.sleep(0.05)
    raise AssertionError(f"jobs still active after {timeout}s: {active_ids(box)}")


def deliver_due(box: Container, *, timeout: float = 20.0, until: int | None = None) -> None:
    """Run the real delivery use case on due webhook deliveries until none is pending (or ``until`` ran)."""
    deadline = time.monotonic() + timeout
    ran = 0
    while time.monotonic() < deadline:
        due = webhooks.sweep(box, now=utcnow(), redispatch_after=0)
        with transaction(box.sessions) as session:
            pending = session.scalar(
                select(func.count()).select_from(WebhookDelivery).where(WebhookDelivery.status == delivery.PENDING)
            )
        for delivery_id in due:
            ran += int(webhooks.deliver(box, delivery_id=delivery_id, worker="test-worker").ran)
        if not pending or (until is not None and ran >= until):
            return
        time.sleep(0.02)
    raise AssertionError(f"webhook deliveries still pending after {timeout}s")


def drive_campaign(box: Container, campaign_id: uuid.UUID, *, until: set[str], timeout: float = 90.0) -> str:
    """Sweep campaigns and advance due jobs until the campaign reaches one of the states ``until``."""
    deadline = time.monotonic() + timeout
    state = None
    while time.monotonic() < deadline:
        campaigns.sweep(box, now=utcnow())
        for due_id in jobs.sweep(box, now=utcnow(), redispatch_after=0):
            jobs.advance(box, job_id=due_id, worker="test-worker")
        with transaction(box.sessions) as session:
            state = session.get_one(Campaign, campaign_id).state
        if state in until:
            return state
        time.sleep(0.05)
    raise AssertionError(f"campaign {campaign_id} is {state} after {timeout}s, not one of {sorted(until)}")
