"""The last jobs of one request ending at the same instant, on Postgres: both transitions must commit.

Found by the fault trials (workers logged ``deadlock detected`` whenever jobs of one request finished
together). Here the race is forced: two sessions end two jobs of one request, and a barrier holds each
right before ``_complete_request_if_done`` locks the request row, so both have already flushed the rows
that reference it (job transition, webhook event) when they ask for the lock.
"""

from __future__ import annotations

import re
import threading
import uuid
from collections.abc import Iterator
from contextlib import suppress
from datetime import timedelta

import pytest
from sqlalchemy import Engine, create_engine, event, select

from app.bootstrap import wired_sessions
from app.db import transaction, utcnow
from app.job import history
from app.job.models import Job, ReprotectRequest
from app.job.states import JobState
from tests import invariants
from tests.conftest import POSTGRES_URL, _unavailable, fresh_postgres_database, migrate

pytestmark = pytest.mark.faults
LOCK = re.compile(r"FOR (NO KEY )?UPDATE")
PATH = [JobState.VALIDATING, JobState.SUBMITTING, JobState.REPROTECTING, JobState.SYNCING]


@pytest.fixture
def engine() -> Iterator[Engine]:
    """A migrated, empty Postgres database of its own."""
    if not POSTGRES_URL:
        _unavailable("postgres")
    with fresh_postgres_database() as url:
        migrate(url)
        engine = create_engine(url, pool_size=4)
        yield engine
        engine.dispose()


def _request_with_syncing_jobs(engine: Engine, count: int) -> list[uuid.UUID]:
    """A request whose ``count`` jobs all reached ``syncing``, written through the real history code."""
    sessions, now = wired_sessions(engine), utcnow()
    with transaction(sessions) as session:
        request = ReprotectRequest(id=uuid.uuid4(), created_at=now, vm_count=count)
        session.add(request)
        jobs = []
        for index in range(count):
            job = Job(
                id=uuid.uuid4(),
                request=request,
                vm_key=f"vault/vm-{index}",
                vm_name=f"vm-{index}",
                vault_id="/subscriptions/s/resourceGroups/g/providers/Microsoft.RecoveryServices/vaults/v",
                subscription_id="s",
                item_id=f"/subscriptions/s/x/replicationProtectedItems/vm-{index}",
                state=JobState.ACCEPTED.value,
                attempt=1,
                deadline_at=now + timedelta(hours=1),
                created_at=now,
                updated_at=now,
            )
            session.add(job)
            history.record_creation(session, job, now=now, actor="test")
            for state in PATH:
                history.transition(session, job, state, reason="test", now=now, actor="test")
            jobs.append(job.id)
    return jobs


def _hold_before_locking_the_request(engine: Engine, barrier: threading.Barrier) -> None:
    """Each thread waits once, at its first lock of the request row, until every thread got there."""
    waited: set[int] = set()

    def before(conn, cursor, statement: str, *args: object) -> None:
        if LOCK.search(statement) and "reprotect_requests" in statement and threading.get_ident() not in waited:
            waited.add(threading.get_ident())
            with suppress(threading.BrokenBarrierError):  # a fix that serialises earlier may never get both here
                barrier.wait(timeout=5)

    event.listen(engine, "before_cursor_execute", before)


def test_two_jobs_of_one_request_ending_together_both_commit(engine):
    job_ids = _request_with_syncing_jobs(engine, 2)
    sessions = wired_sessions(engine)
    _hold_before_locking_the_request(engine, threading.Barrier(len(job_ids)))
    errors: list[BaseException] = []

    def finish(job_id: uuid.UUID) -> None:
        try:
            with transaction(sessions) as session:
                job = session.get(Job, job_id)
                assert job is not None
                history.transition(session, job, JobState.PROTECTED, reason="resync done", now=utcnow(), actor="test")
        except BaseException as exc:  # collected: the assertion below names it
            errors.append(exc)

    threads = [threading.Thread(target=finish, args=(job_id,)) for job_id in job_ids]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)

    if errors:  # a deadlock: Postgres rolled one transition back
        raise errors[0]
    with transaction(sessions) as session:
        assert {j.state for j in session.scalars(select(Job))} == {"protected"}
        assert session.scalars(select(ReprotectRequest)).one().completed_at is not None
        assert invariants.check(session) == []
