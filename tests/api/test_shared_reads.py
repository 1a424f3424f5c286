"""Identical reads sent at once through the API share runs, yet every caller gets exactly its own answer:
callers of other scopes, other filters or other pages never receive each other's (``app.api.coalesce``)."""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

import pytest
from fastapi.testclient import TestClient
from prometheus_client import REGISTRY

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
        before = _shared()
        for _ in range(5):  # crowds until some requests shared a run (on Postgres the pooled reads may be too quick)
            with ThreadPoolExecutor(max_workers=24) as pool:
                crowd = list(pool.map(lambda pair: ask(*pair), list(itertools.product(keys, asks)) * 8))
            for who, path, status, body in crowd:
                assert status == 200
                assert body == alone[(who, path)], (who, path)  # never another scope's, filter's or page's answer
            if _shared() > before:
                break
    if container.settings.database.url.startswith("sqlite"):  # threaded reads: slow enough to overlap, always
        assert _shared() > before
