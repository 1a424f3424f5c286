"""Shared fixtures: databases created by Alembic (SQLite always; Postgres and Redis when provided), the
emulator as a real HTTP server process, and a service container wired to both."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest
from alembic import command
from alembic.config import Config
from sqlalchemy import text

from app.bootstrap import Container, bootstrap
from app.settings import (
    AzureSettings,
    BrokerSettings,
    DatabaseSettings,
    EventSettings,
    FleetSettings,
    JobSettings,
    Settings,
    WebhookSettings,
)
from tests.databases import fresh_database
from tests.emulator_process import running_emulator

ROOT = Path(__file__).resolve().parent.parent


def _per_worker_redis(url: str | None) -> str | None:
    """Under pytest-xdist, each worker its own Redis database (gw0: the one given, gw1: the one below, ...):
    brokers, revocation channels and heartbeats of two workers' stacks must never meet. Postgres databases
    are created per session already."""
    worker = os.environ.get("PYTEST_XDIST_WORKER", "")
    if not url or not worker.startswith("gw"):
        return url
    base, _, number = url.rpartition("/")
    if not number.isdigit():
        return url
    return f"{base}/{(int(number) - int(worker[2:])) % 16}"


POSTGRES_URL = os.environ.get("REPROTECT_TEST_POSTGRES_URL")
REDIS_URL = _per_worker_redis(os.environ.get("REPROTECT_TEST_REDIS_URL"))
# CI sets this: a missing Postgres or Redis is then a failure, not a skip.
REQUIRE_SERVICES = os.environ.get("REPROTECT_TEST_REQUIRE_SERVICES") == "1"
TABLES = [
    "audit_log",
    "api_keys",
    "idempotency_keys",
    "webhook_attempts",
    "webhook_deliveries",
    "webhook_events",
    "webhook_endpoints",
    "campaign_steps",
    "campaign_vms",
    "campaigns",
    "job_transitions",
    "cache_account_claims",
    "job_terminal_counts",
    "jobs",
    "reprotect_requests",
    "process_heartbeats",
]


def _unavailable(what: str) -> None:
    message = f"{what} not configured: set REPROTECT_TEST_{what.upper()}_URL to run these tests against it"
    if REQUIRE_SERVICES:
        pytest.fail(message)
    pytest.skip(message)


def migrate(url: str) -> None:
    """Create the schema the way production does: Alembic, to head."""
    config = Config(str(ROOT / "alembic.ini"))
    config.set_main_option("sqlalchemy.url", url)
    command.upgrade(config, "head")


# Tests that start whole stacks (processes: emulator, API, worker, scheduler, a browser; the fault trials): one xdist group, so under
# `pytest -n 2 --dist loadgroup` they run one at a time in one process and share their package-scoped stacks.
STACK_TESTS = ("tests/e2e/", "tests/browser/", "tests/metrics/test_metrics_stack.py", "tests/faults/")


# The keyword `make test-services` selects the fault trials by (`-k "… or fault_trial"`); "faults" alone also
# matches names such as test_configuration's "defaults".
FAULT_TRIALS = "tests/faults/"


@pytest.hookimpl(tryfirst=True)  # before pytest-xdist's own hook reads the groups (else none is applied)
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if item.nodeid.startswith(STACK_TESTS):
            item.add_marker(pytest.mark.xdist_group("stacks"))
        if item.nodeid.startswith(FAULT_TRIALS):
            item.extra_keyword_matches.add("fault_trial")


@pytest.fixture(scope="session", params=["sqlite", "postgres"])
def database_url(request, tmp_path_factory) -> Iterator[str]:
    """A migrated, empty database per backend for the whole session."""
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path_factory.mktemp('db')}/jobs.sqlite3"
        migrate(url)
        yield url
        return
    if not POSTGRES_URL:
        _unavailable("postgres")
    with fresh_postgres_database() as url:
        migrate(url)
        yield url


@contextmanager
def fresh_postgres_database() -> Iterator[str]:
    """An empty database on the configured Postgres server, dropped afterwards."""
    assert POSTGRES_URL
    with fresh_database(POSTGRES_URL) as url:
        yield url


@pytest.fixture(scope="session")
def emulator_url(tmp_path_factory) -> Iterator[str]:
    """The ASR emulator as its own process on a free loopback port (demo scenario, fast clock)."""
    with running_emulator(tmp_path_factory.mktemp("emulator"), seed=7, time_scale=20000) as url:
        yield url


@pytest.fixture
def emulator(emulator_url) -> Iterator[httpx.Client]:
    """A client of the emulator's admin API, reset before each test."""
    with httpx.Client(base_url=emulator_url, timeout=10) as client:
        client.post("/_emulator/reset").raise_for_status()
        client.put("/_emulator/throttle", json={"enabled": False}).raise_for_status()
        yield client


def service_settings(database_url: str, emulator_url: str, broker_url: str | None = None) -> Settings:
    """Settings for a test: this database, this emulator, fast polling."""
    return Settings(
        database=DatabaseSettings(url=database_url),
        broker=BrokerSettings(url=broker_url or "memory://", sweep_interval_seconds=0.5),
        azure=AzureSettings(
            endpoint=emulator_url, cache_ttl_seconds=0.5, snapshot_ttl_seconds=0.5, request_timeout_seconds=10
        ),
        job=JobSettings(
            poll_interval_seconds=0.2,
            max_poll_interval_seconds=0.2,  # the emulator's scaled clock runs jobs far sooner than their ETA
            min_poll_interval_seconds=0.05,
            lease_seconds=5,
            redispatch_after_seconds=2,
            transient_backoff_base_seconds=0.05,
            transient_backoff_max_seconds=0.5,
        ),
        # Test receivers listen on loopback over plain http: allow exactly that.
        webhook=WebhookSettings(
            allow_http=True,
            allowed_networks=["127.0.0.0/8"],
            timeout_seconds=3,
            connect_timeout_seconds=1,
            backoff_base_seconds=0.05,
            backoff_max_seconds=0.2,
        ),
        # In-process clients read an answer only once it ends: event streams end quickly here (the stream's
        # own tests run a real server, tests/api/test_event_stream.py).
        events=EventSettings(max_stream_seconds=0.3),
        # Tests look at the inventory right after changing jobs: no decided fleet kept between calls
        # (tests/api/test_inventory.py covers keeping it, per caller scope).
        fleet=FleetSettings(view_ttl_seconds=0.0),
    )


@pytest.fixture
def container(database_url, emulator) -> Iterator[Container]:
    """The service's container on the test database and the emulator, with empty tables."""
    box = bootstrap(service_settings(database_url, str(emulator.base_url)))
    with box.engine.begin() as connection:
        for table in TABLES:
            connection.execute(text(f"DELETE FROM {table}"))
    yield box
    box.close()


@pytest.fixture(scope="session")
def redis_url() -> str:
    """The real Redis, when configured."""
    if not REDIS_URL:
        _unavailable("redis")
    return str(REDIS_URL)
