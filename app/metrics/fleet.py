"""Gauges read from the database at scrape time, the same for every process: jobs by state, the oldest due
job, the sweeper's lag, and the webhook backlog. A few small indexed queries (as ``GET /jobs/summary``):

- finished jobs from the ``job_terminal_counts`` rows, in-flight jobs from the partial index over active jobs;
- **oldest due job age**: the longest any active, unleased job has been due (workers or broker behind);
- **sweeper lag**: the same, among due jobs the sweeper should already have rung for (never rung, or rung
  longer ago than its re-ring wait: ``app.leases``): the sweeper is behind or stopped;
- pending webhook deliveries and the age of the oldest.

A database error is not a scrape error: ``reprotect_fleet_metrics_up`` is 0 and the other gauges are absent.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from datetime import datetime

from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector
from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session, sessionmaker

from app.db import utcnow
from app.job.models import Job, JobTerminalCount
from app.job.runner import JOBS
from app.job.states import ACTIVE_STATES, JobState
from app.webhook.models import WebhookDelivery

log = logging.getLogger(__name__)
_ACTIVE = sorted(state.value for state in ACTIVE_STATES)


class FleetCollector(Collector):
    """Reads the fleet's gauges at each scrape through the sessions ``sessions_of()`` returns (None: not yet)."""

    def __init__(self, sessions_of: Callable[[], sessionmaker[Session] | None], *, redispatch_after: float):
        self._sessions_of = sessions_of
        self._redispatch_after = redispatch_after

    def collect(self) -> Iterator[GaugeMetricFamily]:
        up = GaugeMetricFamily(
            "reprotect_fleet_metrics_up", "Whether the fleet gauges could be read from the database."
        )
        sessions = self._sessions_of()
        families: list[GaugeMetricFamily] = []
        if sessions is not None:
            try:
                families = self._read(sessions, utcnow())
            except Exception:
                log.warning("metrics: the fleet gauges could not be read", exc_info=True)
        up.add_metric([], 1.0 if families else 0.0)
        yield up
        yield from families

    def describe(self) -> Iterator[GaugeMetricFamily]:
        return iter(())  # read at scrape time only: never at registration

    def _read(self, sessions: sessionmaker[Session], now: datetime) -> list[GaugeMetricFamily]:
        with sessions() as session:
            counts = {state.value: 0.0 for state in JobState}
            for state, count in session.execute(
                select(JobTerminalCount.state, func.sum(JobTerminalCount.count)).group_by(JobTerminalCount.state)
            ):
                counts[state] = float(count or 0)
            for state, count in session.execute(
                select(Job.state, func.count()).where(Job.state.in_(_ACTIVE)).group_by(Job.state)
            ):
                counts[state] = float(count)
            due_at = func.coalesce(Job.next_due_at, Job.created_at)
            due = select(func.min(due_at)).where(
                Job.state.in_(_ACTIVE),
                or_(Job.next_due_at.is_(None), Job.next_due_at <= now),
                or_(Job.lease_until.is_(None), Job.lease_until < now),
            )
            oldest_due = session.scalar(due)
            oldest_unrung = session.scalar(due.where(JOBS.rung_long_ago(now, self._redispatch_after)))
            pending, oldest_pending = session.execute(
                select(func.count(), func.min(WebhookDelivery.created_at)).where(WebhookDelivery.status == "pending")
            ).one()
        jobs = GaugeMetricFamily(
            "reprotect_jobs", "Jobs by state (finished ones from the maintained counts).", labels=["state"]
        )
        for state, total in counts.items():
            jobs.add_metric([state], total)
        return [
            jobs,
            _age(
                "reprotect_jobs_oldest_due_age_seconds",
                "How long the longest-waiting due job has been due.",
                oldest_due,
                now,
            ),
            _age(
                "reprotect_sweeper_lag_seconds",
                "How long the oldest due job nobody rang for has waited for the sweeper.",
                oldest_unrung,
                now,
            ),
            GaugeMetricFamily(
                "reprotect_webhook_deliveries_pending",
                "Webhook deliveries not yet delivered or given up.",
                value=float(pending),
            ),
            _age(
                "reprotect_webhook_oldest_pending_age_seconds",
                "Age of the oldest pending webhook delivery.",
                oldest_pending,
                now,
            ),
        ]


def _age(name: str, documentation: str, since: datetime | None, now: datetime) -> GaugeMetricFamily:
    seconds = 0.0 if since is None else max(0.0, (now - since).total_seconds())
    return GaugeMetricFamily(name, documentation, value=seconds)
