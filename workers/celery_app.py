"""The worker's Celery app and its tasks, each one call of a domain use case: advance one job by one step,
make one webhook delivery attempt, sweep for due jobs, sweep for due deliveries, move due campaigns on."""

from __future__ import annotations

import os
import socket
import threading
import uuid

from celery import Celery

from app.bootstrap import Container, bootstrap
from app.campaign import engine as campaigns
from app.db import utcnow
from app.job import service as jobs
from app.queue import (
    ADVANCE_CAMPAIGN,
    ADVANCE_JOB,
    DELIVER_WEBHOOK,
    SWEEP,
    SWEEP_CAMPAIGNS,
    SWEEP_WEBHOOKS,
    build_celery,
)
from app.settings import get_settings
from app.webhook import service as webhooks
from workers import signals

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
signals.install_task_hooks()  # each task's log lines and history name the API request it was rung for


@celery.task(name=ADVANCE_JOB)  # type: ignore[untyped-decorator]
def advance_job(job_id: str) -> str | None:
    """Run one step of a job."""
    done = jobs.advance(container(), job_id=uuid.UUID(job_id), worker=worker_name())
    return done.state.value if done.state else None


@celery.task(name=DELIVER_WEBHOOK)  # type: ignore[untyped-decorator]
def deliver_webhook(delivery_id: str) -> str | None:
    """Make one attempt of a webhook delivery."""
    return webhooks.deliver(container(), delivery_id=uuid.UUID(delivery_id), worker=worker_name()).status


@celery.task(name=SWEEP)  # type: ignore[untyped-decorator]
def sweep() -> int:
    """Ring for every job that is due, or whose worker died holding its lease."""
    return len(jobs.sweep(container(), now=utcnow()))


@celery.task(name=SWEEP_WEBHOOKS)  # type: ignore[untyped-decorator]
def sweep_webhooks() -> int:
    """Ring for every webhook delivery that is due, or whose worker died holding its lease."""
    return len(webhooks.sweep(container(), now=utcnow()))


@celery.task(name=SWEEP_CAMPAIGNS)  # type: ignore[untyped-decorator]
def sweep_campaigns() -> int:
    """Move every due campaign on: start its next step, judge a finished one, pass or stop at its gate."""
    return len(campaigns.sweep(container(), now=utcnow()))


@celery.task(name=ADVANCE_CAMPAIGN)  # type: ignore[untyped-decorator]
def advance_campaign(campaign_id: str) -> str | None:
    """Move one campaign on now (rung by the API after an operator's action or a new campaign)."""
    return campaigns.advance_safely(container(), campaign_id=uuid.UUID(campaign_id))
