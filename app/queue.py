"""The Celery app both edges share (broker = doorbell), and the doorbell the API and sweeper ring.

Task names are strings so the API can ring without importing ``workers``.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Iterable
from typing import Any

from celery import Celery

from app.logs import task_context
from app.settings import Settings

ADVANCE_JOB = "reprotect.advance_job"
DELIVER_WEBHOOK = "reprotect.deliver_webhook"
SWEEP = "reprotect.sweep"
SWEEP_WEBHOOKS = "reprotect.sweep_webhooks"
SWEEP_CAMPAIGNS = "reprotect.sweep_campaigns"
ADVANCE_CAMPAIGN = "reprotect.advance_campaign"
JOBS_QUEUE = "celery"
WEBHOOKS_QUEUE = "webhooks"  # its own queue: a delivery never waits behind a fleet's job steps
log = logging.getLogger(__name__)


def build_celery(settings: Settings) -> Celery:
    """A Celery app on the configured broker, with settings suited to short idempotent steps."""
    celery = Celery("reprotect", broker=settings.broker.url, set_as_current=False)
    task_context.install_publish_hook()  # messages carry the request id they were rung for (app.logs)
    celery.conf.update(
        task_serializer="json",
        accept_content=["json"],
        task_ignore_result=True,
        task_acks_late=True,  # a message is only gone once a step ran; the lease makes reruns harmless
        task_reject_on_worker_lost=True,
        worker_prefetch_multiplier=4,
        broker_connection_retry_on_startup=True,
        broker_connection_timeout=3,
        broker_transport_options=_transport_options(settings.broker.url),
        task_default_queue=JOBS_QUEUE,
        task_routes={DELIVER_WEBHOOK: {"queue": WEBHOOKS_QUEUE}, SWEEP_WEBHOOKS: {"queue": WEBHOOKS_QUEUE}},
        beat_schedule={
            "sweep-due-jobs": {"task": SWEEP, "schedule": settings.broker.sweep_interval_seconds},
            "sweep-due-campaigns": {"task": SWEEP_CAMPAIGNS, "schedule": settings.broker.sweep_interval_seconds},
            "sweep-due-webhook-deliveries": {
                "task": SWEEP_WEBHOOKS,
                "schedule": settings.broker.sweep_interval_seconds,
            },
        },
        beat_schedule_filename=settings.broker.beat_schedule_path,
        timezone="UTC",
    )
    return celery


def _transport_options(url: str) -> dict[str, Any]:
    if url.startswith(("redis", "rediss")):
        return {"visibility_timeout": 600, "socket_timeout": 5, "socket_connect_timeout": 3}
    if url.startswith("sqla+sqlite"):
        # kombu's SQLAlchemy transport hands its options to create_engine. The embedded broker is one SQLite
        # file that the API, the worker and the scheduler all write: wait for its lock as long as the job
        # database does (app.db) instead of sqlite3's 5 s, after which kombu reports the broker as lost.
        return {"connect_args": {"timeout": 30}}
    return {}


class Doorbell:
    """Tells workers a job is due. Best effort: if the broker is down, the sweeper rings later."""

    def __init__(self, celery: Celery):
        self._celery = celery

    def ring(self, job_ids: Iterable[uuid.UUID], *, countdown: float = 0.0) -> int:
        """Enqueue one advance per job; returns how many were sent."""
        return self._send(ADVANCE_JOB, job_ids, countdown=countdown)

    def ring_campaign(self, campaign_id: uuid.UUID) -> int:
        """Ask a worker to move a campaign on now (an operator's action, a new campaign)."""
        return self._send(ADVANCE_CAMPAIGN, [campaign_id], countdown=0.0)

    def ring_deliveries(self, delivery_ids: Iterable[uuid.UUID], *, countdown: float = 0.0) -> int:
        """Enqueue one attempt per webhook delivery; returns how many were sent."""
        return self._send(DELIVER_WEBHOOK, delivery_ids, countdown=countdown)

    def _send(self, task: str, ids: Iterable[uuid.UUID], *, countdown: float) -> int:
        sent = 0
        try:
            with self._celery.producer_or_acquire() as producer:
                for row_id in ids:
                    self._celery.send_task(task, args=[str(row_id)], countdown=countdown or None, producer=producer)
                    sent += 1
        except Exception as exc:
            log.warning("doorbell: broker unavailable (%s); the sweeper will pick the work up", exc)
        return sent

    def worker_nodes(self, timeout: float = 0.5) -> list[str] | None:
        """The Celery node names answering a ping on this broker (``reprotect-<pid>-<hex>@<host>``); None
        when the broker cannot broadcast (the embedded SQLite broker) or does not answer."""
        try:
            with self._celery.connection_for_read() as connection:
                if "fanout" not in connection.transport.implements.exchange_type:  # no broadcast (SQLite)
                    return None
                replies = self._celery.control.ping(timeout=timeout, connection=connection) or []
        except Exception as exc:
            log.info("doorbell: workers could not be pinged (%s)", exc)
            return None
        return sorted(name for reply in replies for name in reply)

    def reachable(self, timeout: float = 2.0) -> bool:
        """Whether the broker accepts a connection now."""
        try:
            with self._celery.connection_for_write() as connection:
                connection.ensure_connection(max_retries=1, timeout=timeout)
            return True
        except Exception:
            return False
