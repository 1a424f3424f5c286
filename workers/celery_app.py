"""The worker's Celery app and its tasks: advance one job by one step; sweep for due jobs."""

from __future__ import annotations

import logging
import os
import socket
import threading
import uuid

from celery import Celery

from app.api import idempotency
from app.bootstrap import Container, bootstrap
from app.db import transaction, utcnow
from app.job import runner, schedule
from app.queue import ADVANCE_JOB, DELIVER_WEBHOOK, SWEEP, build_celery
from app.settings import get_settings
from app.webhooks import delivery

log = logging.getLogger(__name__)
_container: Container | None = None
_container_lock = threading.Lock()


def container() -> Container:
    """This worker process's container, built on first use (after any fork)."""
    global _container
    with _container_lock:
        if _container is None:
            _container = bootstrap()
        return _container


def worker_name() -> str:
    """Who holds a lease: host, process and thread."""
    return f"{socket.gethostname()}:{os.getpid()}:{threading.get_ident()}"


celery: Celery = build_celery(get_settings())


@celery.task(name=ADVANCE_JOB)  # type: ignore[untyped-decorator]
def advance_job(job_id: str) -> str | None:
    """Run one step of a job; ring again at once when the next step is due immediately."""
    box = container()
    done = runner.advance(
        box.sessions, cloud=box.cloud, job_id=uuid.UUID(job_id), worker=worker_name(), settings=box.settings.job
    )
    if not done.ran:  # early, duplicate or leased elsewhere: let the sweeper ring when it is due
        with transaction(box.sessions) as session:
            schedule.forget_dispatch(session, done.job_id)
    elif done.due_in is not None and done.due_in < box.settings.broker.sweep_interval_seconds:
        with transaction(box.sessions) as session:
            schedule.mark_dispatched(session, [done.job_id], now=utcnow())
        box.doorbell.ring([done.job_id], countdown=done.due_in)
    return done.state.value if done.state else None


@celery.task(name=DELIVER_WEBHOOK)  # type: ignore[untyped-decorator]
def deliver_webhook(delivery_id: str) -> str | None:
    """Make one attempt of a webhook delivery; a retry due soon is rung for at once."""
    box = container()
    done = delivery.deliver(
        box.sessions,
        box.sender,
        delivery_id=uuid.UUID(delivery_id),
        worker=worker_name(),
        settings=box.settings.webhook,
    )
    if done.due_in is not None and done.due_in < box.settings.broker.sweep_interval_seconds:
        box.doorbell.ring_deliveries([done.delivery_id], countdown=done.due_in)
    return done.status


@celery.task(name=SWEEP)  # type: ignore[untyped-decorator]
def sweep() -> int:
    """Ring for every job and webhook delivery that is due, or whose worker died holding its lease."""
    box = container()
    now, redispatch = utcnow(), box.settings.job.redispatch_after_seconds
    with transaction(box.sessions) as session:
        due = schedule.take_due(session, now=now, redispatch_after=redispatch)
        deliveries = delivery.take_due(session, now=now, redispatch_after=redispatch)
        idempotency.purge_expired(session, now=now)
    if due:
        box.doorbell.ring(due)
        log.info("sweeper rang for %d job(s)", len(due))
    if deliveries:
        box.doorbell.ring_deliveries(deliveries)
        log.info("sweeper rang for %d webhook deliveries", len(deliveries))
    return len(due) + len(deliveries)
