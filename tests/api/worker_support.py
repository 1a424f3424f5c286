"""Helpers for tests that step the real worker code by hand: accept a job, step it, read its row, count Azure calls."""

from __future__ import annotations

import threading
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select, update

from app.db import transaction, utcnow
from app.job import runner
from app.job import service as jobs
from app.job.models import Job, JobTransition

SWITCH = "ReplicationProtectionContainers_SwitchProtection"
# What the emulator starts with (ARM's documented buckets), switched off as the emulator fixture leaves it.
ARM_DEFAULT_THROTTLE = {
    "enabled": False,
    "reads": {"burst": 250, "per_second": 25},
    "writes": {"burst": 200, "per_second": 10},
}


def throttle(emulator, **buckets: dict[str, float]) -> None:
    """Turn the emulator's throttle on: ARM's default buckets, except those given."""
    config = {"reads": ARM_DEFAULT_THROTTLE["reads"], "writes": ARM_DEFAULT_THROTTLE["writes"], **buckets}
    emulator.put("/_emulator/throttle", json=config).raise_for_status()


def demo_cache(item: dict[str, Any]) -> str:
    """The demo's existing cache account in Southeast Asia (the subscription of ``item``)."""
    sub = item["id"].split("/")[2]
    return (
        f"/subscriptions/{sub}/resourceGroups/contoso-db-rg-asr/providers/Microsoft.Storage/storageAccounts/"
        "k3v9qpcontosodrvasrcache"
    )


def accept(api, *items: dict[str, Any]) -> uuid.UUID:
    """POST /reprotect for these demo items, naming the demo's existing cache account so that the first
    submitting step sends switch protection at once (tests/api/test_cache_account_fleet.py covers creating
    one); the (first) job's id."""
    vms = [{"item_id": i["id"], "cache_storage_account_id": demo_cache(i)} for i in items]
    answer = api.post("/reprotect", json={"vms": vms})
    assert answer.status_code == 202, answer.text
    return uuid.UUID(answer.json()["jobs"][0]["id"])


def step(container, job_id: uuid.UUID, *, worker: str = "w1", cloud=None, settings=None) -> runner.Advanced:
    """One call of the worker's use case, exactly as the Celery task makes it (optionally through another
    cloud, or with other job settings)."""
    deps = replace(container, cloud=cloud or container.cloud)
    if settings is not None:
        deps = replace(deps, settings=container.settings.model_copy(update={"job": settings}))
    return jobs.advance(deps, job_id=job_id, worker=worker)


def make_due(container, job_id: uuid.UUID) -> None:
    """Let the recorded wait pass (instead of sleeping through it)."""
    with transaction(container.sessions) as session:
        session.execute(update(Job).where(Job.id == job_id).values(next_due_at=utcnow()))


def expire_lease(container, job_id: uuid.UUID) -> None:
    """The holder's lease runs out (instead of sleeping through it)."""
    with transaction(container.sessions) as session:
        session.execute(update(Job).where(Job.id == job_id).values(lease_until=utcnow() - timedelta(seconds=1)))


@dataclass(frozen=True)
class Row:
    """A job row as recorded, with its history."""

    state: str
    version: int
    next_due_at: datetime | None
    updated_at: datetime
    transient_failures: int
    lease_owner: str | None
    lease_until: datetime | None
    switch_sent_at: datetime | None
    error_code: str | None
    failed_in: str | None
    history: list[tuple[str | None, str, str, str]]  # (from, to, actor, reason)

    @property
    def recorded_wait(self) -> float:
        """How long after recording the job is due again (next_due_at - the time it was recorded)."""
        assert self.next_due_at is not None
        return (self.next_due_at - self.updated_at).total_seconds()


def row(container, job_id: uuid.UUID) -> Row:
    """The job's row as it is in the database now."""
    with transaction(container.sessions) as session:
        job = session.get_one(Job, job_id)
        history = session.scalars(
            select(JobTransition).where(JobTransition.job_id == job_id).order_by(JobTransition.id)
        ).all()
        return Row(
            state=job.state,
            version=job.version,
            next_due_at=job.next_due_at,
            updated_at=job.updated_at,
            transient_failures=job.transient_failures,
            lease_owner=job.lease_owner,
            lease_until=job.lease_until,
            switch_sent_at=job.switch_sent_at,
            error_code=job.error_code,
            failed_in=job.failed_in,
            history=[(t.from_state, t.to_state, t.actor, t.reason) for t in history],
        )


def switch_calls(emulator, item: dict[str, Any]) -> int:
    """How many switch protections reached the emulator's handler for this item."""
    return emulator.get("/_emulator/stats").json()["calls_by_item"].get(item["name"], {}).get(SWITCH, 0)


@contextmanager
def released(*clouds: PausingCloud) -> Iterator[None]:
    """Let every paused call go when the block ends, even when an assertion failed inside it."""
    try:
        yield
    finally:
        for cloud in clouds:
            cloud.go.set()


class PausingCloud:
    """The real cloud, with one call held (after Azure answered it) until the test lets it go.

    Injected at the Cloud boundary to interleave two workers deterministically; every call still goes
    to the emulator over HTTP.
    """

    def __init__(self, inner, *, pause_after: str):
        self._inner = inner
        self._pause_after = pause_after
        self.paused = threading.Event()
        self.go = threading.Event()
        self.calls: list[str] = []

    def __getattr__(self, name: str):
        attribute = getattr(self._inner, name)
        if not callable(attribute):
            return attribute

        def call(*args, **kwargs):
            self.calls.append(name)
            result = attribute(*args, **kwargs)
            if name == self._pause_after and not self.paused.is_set():
                self.paused.set()
                assert self.go.wait(30), "the test never let the paused call go"
            return result

        return call
