"""Identical reads sent at once through the API share runs, yet every caller gets exactly its own answer:
callers of other scopes, other filters or other pages never receive each other's (``app.api.coalesce``)."""

from __future__ import annotations

import itertools
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from datetime import timedelta

import pytest
from fastapi.testclient import TestClient
from prometheus_client import REGISTRY
from sqlalchemy import text

from app.api.app import create_app
from app.bootstrap import Container, bootstrap
from tests.api.conftest import make_key
from tests.conftest import service_settings
from tests.unit.job_rows import NOW, VAULT, add_job, empty_database

OTHER_VAULT = VAULT.replace("vijami-alertrg", "other-rg").replace("vijamireprotecttest", "elsewhere")


@pytest.fixture
def container(database_url) -> Iterator[Container]:
    with empty_database(database_url):
        pass
    box = bootstrap(service_settings(database_url, "http://127.0.0.1:9"))  # no Azure call on these reads
    yield box
    box.close()


def _shared() -> float:
    return sum(
        REGISTRY.get_sample_value("reprotect_http_reads_shared_total", {"route": route}) or 0.0
        for route in ("/jobs", "/jobs/summary")
    )


def test_concurrent_identical_reads_share_runs_and_each_caller_gets_only_its_own_answer(container):
    for n in range(8):  # in flight: 2 in one vault, 3 in the other (every answer differs by scope)
        add_job(
            container.sessions,
            name=f"vm-{n}",
            vault_id=VAULT if n % 2 else OTHER_VAULT,
            state="failed" if n % 3 == 0 else "syncing",
            created_at=NOW + timedelta(seconds=n),
        )
    keys = {
        "all": make_key(container, role="reader"),
        "ours": make_key(container, role="reader", scopes=(VAULT,)),
        "theirs": make_key(container, role="reader", scopes=(OTHER_VAULT,)),
    }
    asks = [
        "/jobs?limit=50",
        "/jobs?limit=50&state=failed",
        "/jobs?limit=1",
        "/jobs?limit=50&view=full",
        "/jobs/summary",
    ]
    with TestClient(create_app(container)) as api:

        def ask(who: str, path: str) -> tuple[str, str, int, bytes]:
            answer = api.get(path, headers={"Authorization": f"Bearer {keys[who]}"})
            return who, path, answer.status_code, answer.content

        # Each caller's own answer to each question, asked alone.
        alone = {(who, path): ask(who, path)[3] for who, path in itertools.product(keys, asks)}
        assert len({alone[("ours", p)] for p in asks} & {alone[("theirs", p)] for p in asks}) == 0
        coalescer = api.app.state.coalescer
        before = (_shared(), coalescer.joined)
        crowd_asks = list(itertools.product(keys, asks)) * 8
        with _jobs_locked(container), ThreadPoolExecutor(max_workers=len(crowd_asks)) as pool:  # all at once
            # On Postgres the jobs table is locked while the crowd arrives: every run waits, so the requests
            # of each question certainly gather in one; on SQLite they share when they happen to overlap.
            pending = [pool.submit(ask, who, path) for who, path in crowd_asks]
        crowd = [future.result() for future in pending]
    for who, path, status, body in crowd:
        assert status == 200
        assert body == alone[(who, path)], (who, path)  # never another scope's, filter's or page's answer
    if container.settings.database.url.startswith("postgresql"):
        assert coalescer.joined - before[1] >= len(crowd) - 2 * len(alone)  # at most two runs per question
        assert _shared() - before[0] == coalescer.joined - before[1]  # and the metric says so


@contextmanager
def _jobs_locked(container: Container) -> Iterator[None]:
    """On Postgres: the jobs table locked against reads for a second and a half while the caller sends requests."""
    if not container.settings.database.url.startswith("postgresql"):
        yield
        return
    with container.engine.connect() as connection:
        connection.execute(text("LOCK TABLE jobs IN ACCESS EXCLUSIVE MODE"))
        released = threading.Timer(1.5, connection.rollback)
        released.start()
        try:
            yield
        finally:
            released.join()
