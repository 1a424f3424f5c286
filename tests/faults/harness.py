"""One fault-injection trial: a real stack on a fresh Postgres database and the suite's private Redis, a
webhook receiver, seeded randomness, and the end-of-trial verdict of :mod:`app.invariants`."""

from __future__ import annotations

import random
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import Engine, create_engine, func, select, text
from sqlalchemy.orm import Session

from app.job.models import Job
from app.job.states import TERMINAL_STATES
from app.webhook.models import WebhookDelivery
from cli.stack import Stack, StackConfig, free_port, running_stack
from tests import invariants
from tests.conftest import fresh_postgres_database
from tests.faults.servers import PrivateRedis
from tests.receiver import Receiver, running_receiver

DEADLINE_SECONDS = 150.0  # a job's deadline: far beyond a healthy trial, within a stuck one's wait
TERMINAL_TIMEOUT = 120.0  # how long a trial waits for every job to end
# VMs per request in a fleet run: several per request, so jobs of one request end together (the
# request-completion race of test_request_completion_race.py) in every trial.
REQUEST_SIZE = 5
_TERMINAL = [s.value for s in TERMINAL_STATES]


def stack_env(database_url: str, broker_url: str) -> dict[str, str]:
    """Postgres + Redis, with leases, polls and backoffs short enough for a trial to last seconds."""
    return {
        "REPROTECT_DATABASE__URL": database_url,
        "REPROTECT_BROKER__URL": broker_url,
        "REPROTECT_BROKER__SWEEP_INTERVAL_SECONDS": "0.5",
        "REPROTECT_JOB__POLL_INTERVAL_SECONDS": "0.5",
        "REPROTECT_JOB__MIN_POLL_INTERVAL_SECONDS": "0.2",
        # Longer than any step (a few calls, each bounded by the request timeout), so only a dead worker loses it.
        "REPROTECT_JOB__LEASE_SECONDS": "5",
        "REPROTECT_JOB__REDISPATCH_AFTER_SECONDS": "2",
        "REPROTECT_JOB__TRANSIENT_BACKOFF_BASE_SECONDS": "0.2",
        "REPROTECT_JOB__TRANSIENT_BACKOFF_MAX_SECONDS": "2",
        "REPROTECT_JOB__DEADLINE_HOURS": str(DEADLINE_SECONDS / 3600),
        "REPROTECT_AZURE__REQUEST_TIMEOUT_SECONDS": "2",
        # Longer than the emulator holds a request in the latency trials (2.5 s): an unanswered
        # switch protection is waited for this long before it is presumed lost.
        "REPROTECT_JOB__SWITCH_SETTLE_SECONDS": "6",
        "REPROTECT_AZURE__CACHE_TTL_SECONDS": "2",
        "REPROTECT_WEBHOOK__ALLOW_HTTP": "true",
        "REPROTECT_WEBHOOK__ALLOWED_NETWORKS": '["127.0.0.0/8"]',
        "REPROTECT_WEBHOOK__BACKOFF_BASE_SECONDS": "0.2",
        "REPROTECT_WEBHOOK__BACKOFF_MAX_SECONDS": "1",
        "REPROTECT_WEBHOOK__LEASE_SECONDS": "5",
    }


def api_client(stack: Stack, *, timeout: float = 60.0) -> httpx.Client:
    """The one way this suite talks to the API: base URL and the stack's credentials (when it has any)."""
    headers: dict[str, str] = dict(getattr(stack, "auth_headers", {}) or {})
    return httpx.Client(base_url=stack.api_url, headers=headers, timeout=timeout)


@dataclass
class Ledger:
    """What the whole session ran and found, for the closing summary."""

    seed: int
    trials: list[str] = field(default_factory=list)
    faults: Counter[str] = field(default_factory=Counter)
    violations: list[tuple[str, invariants.Violation]] = field(default_factory=list)
    outcomes: dict[str, Counter[str]] = field(default_factory=dict)
    deadlocks: dict[str, int] = field(default_factory=dict)
    crashes: Counter[str] = field(default_factory=Counter)  # children that died by themselves, restarted


@dataclass
class Trial:
    """A running stack under test, what was injected into it, and how to judge it."""

    name: str
    seed: int
    rng: random.Random
    stack: Stack
    engine: Engine
    receiver: Receiver
    ledger: Ledger
    started: float = field(default_factory=time.monotonic)
    terminal_timeout: float = TERMINAL_TIMEOUT

    # -- talking to it ---------------------------------------------------------------------------

    def api(self) -> httpx.Client:
        """A client of the trial's API."""
        return api_client(self.stack)

    def emulator(self, method: str, path: str, body: dict[str, Any] | None = None) -> Any:
        """Call the emulator's admin API (``/_emulator`` + ``path``) and return its JSON."""
        answer = httpx.request(method, f"{self.stack.emulator_url}/_emulator{path}", json=body, timeout=30)
        answer.raise_for_status()
        return answer.json()

    def say(self, message: str) -> None:
        """A progress line (shown with ``-s``)."""
        print(f"[faults {self.name} seed={self.seed} t={time.monotonic() - self.started:5.1f}s] {message}", flush=True)

    def fault(self, kind: str, detail: str = "") -> None:
        """Record one injected fault."""
        self.ledger.faults[kind] += 1
        self.say(f"FAULT {kind} {detail}".rstrip())

    def revive(self) -> list[str]:
        """Start again every child that exited by itself, as a supervisor would; their names."""
        dead = [name for name, child in self.stack.children if child.poll() is not None]
        for name in dead:
            self.stack.kill(name)  # forget the dead process
            self.stack.respawn(name)
            self.ledger.crashes[name] += 1
            self.say(f"CRASH the {name} process had exited by itself; restarted it")
        return dead

    def log_of(self, name: str) -> str:
        """What a child wrote so far."""
        path = self.stack.config.var_dir / f"{name}.log"
        return path.read_text(errors="replace") if path.exists() else ""

    def vms(self, count: int | None = None) -> list[dict[str, str]]:
        """The emulator's committed VMs (the first ``count``), as ``POST /reprotect`` targets."""
        scenario = self.emulator("GET", "/scenario")
        targets = [
            {"vault_id": vault["id"], "vm_name": item["name"]}
            for sub in scenario["subscriptions"]
            for vault in sub["vaults"]
            for item in vault["items"]
            if item["protection_state"] == "UnplannedFailoverCommitted" and item["source_vm"] == "present"
        ]
        return targets[:count] if count else targets

    def submit_fleet(self, vms: list[dict[str, str]], *, per_request: int = REQUEST_SIZE) -> list[dict[str, Any]]:
        """Submit ``vms`` as several requests of ``per_request`` VMs each; the 202 bodies."""
        return [self.submit(vms[i : i + per_request]) for i in range(0, len(vms), per_request)]

    def submit(self, vms: list[dict[str, str]]) -> dict[str, Any]:
        """``POST /reprotect``; the 202's body."""
        with self.api() as api:
            answer = api.post("/reprotect", json={"vms": vms})
        assert answer.status_code == 202, f"{answer.status_code}: {answer.text}"
        body: dict[str, Any] = answer.json()
        self.say(f"accepted {len(body['jobs'])} job(s) in request {body['request_id']}")
        return body

    def retry(self, job_id: str) -> None:
        """``POST /jobs/{id}/retry``."""
        with self.api() as api:
            answer = api.post(f"/jobs/{job_id}/retry")
        assert answer.status_code == 202, f"{answer.status_code}: {answer.text}"

    # -- looking at the database -------------------------------------------------------------------

    def jobs(self) -> dict[str, Job]:
        """Every job of the trial, by id (detached rows)."""
        with Session(self.engine, expire_on_commit=False) as session:
            return {str(job.id): job for job in session.scalars(select(Job))}

    def states(self) -> Counter[str]:
        """How many jobs are in each state."""
        return Counter(job.state for job in self.jobs().values())

    def wait_for(self, predicate: Callable[[], bool], *, what: str, timeout: float = 30.0) -> None:
        """Poll ``predicate`` every 50 ms until it holds."""
        deadline = time.monotonic() + timeout
        while not predicate():
            if time.monotonic() > deadline:
                raise AssertionError(f"{what}: not within {timeout:.0f}s ({self.reproduce})")
            time.sleep(0.05)

    def wait_terminal(self, timeout: float | None = None) -> dict[str, Job]:
        """Wait until every job is terminal; the jobs."""
        timeout = timeout or self.terminal_timeout
        deadline = time.monotonic() + timeout
        while True:
            jobs = self.jobs()
            active = {i: j.state for i, j in jobs.items() if j.state not in _TERMINAL}
            if not active:
                self.say(f"all {len(jobs)} job(s) terminal: {dict(Counter(j.state for j in jobs.values()))}")
                return jobs
            if time.monotonic() > deadline:
                raise AssertionError(f"jobs still active after {timeout:.0f}s: {active} ({self.reproduce})")
            time.sleep(0.25)

    def deadlocks(self) -> int:
        """Deadlocks Postgres detected (and resolved by rolling a transaction back) in the trial's database."""
        with self.engine.connect() as connection:
            query = text("SELECT deadlocks FROM pg_stat_database WHERE datname = current_database()")
            return int(connection.scalar(query) or 0)

    def pending_deliveries(self) -> int:
        """Webhook deliveries not yet settled."""
        with Session(self.engine) as session:
            query = select(func.count()).select_from(WebhookDelivery).where(WebhookDelivery.status == "pending")
            return int(session.scalar(query) or 0)

    # -- the verdict -------------------------------------------------------------------------------

    @property
    def reproduce(self) -> str:
        return f"reproduce with REPROTECT_FAULT_SEED={self.seed} pytest tests/faults -k {self.name}"

    def verify(self) -> dict[str, Job]:
        """Wait for the end, then check every invariant; record and assert zero violations."""
        jobs = self.wait_terminal()
        self.wait_for(lambda: self.pending_deliveries() == 0, what="webhook deliveries settled", timeout=30)
        stats = self.emulator("GET", "/stats")
        delivered = {r.headers.get("webhook-id", "") for r in self.receiver.received}
        with Session(self.engine) as session:
            found = invariants.check(
                session,
                switch_calls_by_item=invariants.switch_calls_from_stats(stats),
                stall_after=timedelta(seconds=30),
                delivered_event_ids=delivered,
            )
        self.ledger.outcomes[self.name] = Counter(j.state for j in jobs.values())
        self.ledger.deadlocks[self.name] = self.deadlocks()
        self.ledger.violations += [(self.name, v) for v in found]
        self.say(f"invariants checked: {len(found)} violation(s)")
        assert not found, "invariant violations:\n" + "\n".join(map(str, found)) + f"\n{self.reproduce}"
        return jobs


@contextmanager
def open_trial(
    name: str,
    *,
    seed: int,
    redis: PrivateRedis,
    ledger: Ledger,
    workdir: Path,
    scenario: str,
    time_scale: float,
    worker_concurrency: int = 4,
    api_processes: int = 1,
    worker_processes: int = 1,
    schedulers: int = 1,
) -> Iterator[Trial]:
    """A fresh database, a receiver registered as a webhook endpoint, and the whole stack, for one trial."""
    rng = random.Random(f"{seed}:{name}")  # the trial's only source of randomness
    redis.flush()
    with fresh_postgres_database() as url, running_receiver() as receiver:
        config = StackConfig(
            var_dir=workdir,
            api_port=free_port(),
            scenario=scenario,
            time_scale=time_scale,
            seed=rng.randrange(2**31),
            worker_concurrency=worker_concurrency,
            api_processes=api_processes,
            worker_processes=worker_processes,
            schedulers=schedulers,
            quiet=True,
            extra_env=stack_env(url, redis.url),
        )
        engine = create_engine(url, pool_pre_ping=True)
        try:
            with running_stack(config) as stack:
                _register_receiver(stack, receiver)
                ledger.trials.append(name)
                trial = Trial(
                    name=name, seed=seed, rng=rng, stack=stack, engine=engine, receiver=receiver, ledger=ledger
                )
                trial.say(f"stack up ({scenario}, time scale {time_scale}); logs in {workdir}")
                yield trial
        finally:
            engine.dispose()


def _register_receiver(stack: Stack, receiver: Receiver) -> None:
    with api_client(stack) as api:
        answer = api.post("/webhooks", json={"url": receiver.url, "description": "fault suite receiver"})
    assert answer.status_code == 201, answer.text
