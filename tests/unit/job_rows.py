"""Job rows in a real database created by Alembic, for tests of the runner and the lease kernel: add one, read it back."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import select, text
from sqlalchemy.orm import Session, selectinload, sessionmaker

from app.bootstrap import wired_sessions
from app.db import build_engine, transaction
from app.job import history
from app.job.models import Job, ReprotectRequest
from tests.conftest import TABLES

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
VAULT = (
    "/subscriptions/7c943c1b-5122-4097-90c8-861411bdd574/resourceGroups/vijami-alertrg"
    "/providers/Microsoft.RecoveryServices/vaults/vijamireprotecttest"
)


@contextmanager
def empty_database(database_url: str) -> Iterator[sessionmaker[Session]]:
    """Sessions wired as in production (transitions write their webhook events), on emptied tables."""
    engine = build_engine(database_url)
    with engine.begin() as connection:
        for table in TABLES:
            connection.execute(text(f"DELETE FROM {table}"))
    try:
        yield wired_sessions(engine)
    finally:
        engine.dispose()


def add_job(sessions: sessionmaker[Session], *, name: str = "vm1", **fields: Any) -> uuid.UUID:
    """A job row (accepted, due now, unleased, deadline in a day unless ``fields`` say otherwise) and its request."""
    job_id = uuid.uuid4()
    with transaction(sessions) as session:
        request = ReprotectRequest(id=uuid.uuid4(), created_at=NOW - timedelta(minutes=5), vm_count=1)
        values: dict[str, Any] = {
            "id": job_id,
            "request": request,
            "vm_key": f"{VAULT.lower()}/{name}",
            "vm_name": name,
            "vault_id": VAULT,
            "subscription_id": "7c943c1b-5122-4097-90c8-861411bdd574",
            "item_id": f"{VAULT}/replicationFabrics/f/replicationProtectionContainers/c/replicationProtectedItems/{name}",
            "customization": {},
            "plan": {},
            "state": "accepted",
            "attempt": 1,
            "next_due_at": NOW,
            "deadline_at": NOW + timedelta(days=1),
            "created_at": NOW - timedelta(minutes=5),
            "updated_at": NOW - timedelta(minutes=5),
        }
        values.update(fields)
        job = Job(**values)
        session.add(request)
        session.add(job)
        history.record_creation(session, job, now=values["created_at"], actor="tester")
    return job_id


def read_job(sessions: sessionmaker[Session], job_id: uuid.UUID) -> Job:
    """The row as committed, with its history loaded."""
    with sessions() as session:
        return session.scalars(select(Job).where(Job.id == job_id).options(selectinload(Job.transitions))).one()
