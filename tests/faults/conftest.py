"""Fixtures of the fault-injection suite: the seed, a private Redis, one trial per test, and the closing summary.

Run alone: ``REPROTECT_TEST_POSTGRES_URL=... pytest tests/faults -s`` (``-m faults`` selects the trials).
Reproduce a failure with the seed it prints: ``REPROTECT_FAULT_SEED=N`` or ``--fault-seed N``.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from typing import Any

import pytest

from tests.conftest import POSTGRES_URL, _unavailable
from tests.faults.harness import Ledger, Trial, open_trial
from tests.faults.servers import PrivateRedis, private_redis

SEED_ENV = "REPROTECT_FAULT_SEED"
_LEDGER = pytest.StashKey[Ledger]()


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption("--fault-seed", type=int, default=None, help=f"seed of the fault suite (or ${SEED_ENV})")


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "faults: fault-injection trials on real processes (needs Postgres; starts its own Redis)"
    )
    config.stash[_LEDGER] = Ledger(seed=_seed(config))


def _seed(config: pytest.Config) -> int:
    given = config.getoption("--fault-seed", default=None)
    if given is None and os.environ.get(SEED_ENV):
        given = int(os.environ[SEED_ENV])
    return int(given) if given is not None else secrets.randbelow(1_000_000)


@pytest.fixture(scope="session")
def fault_ledger(request: pytest.FixtureRequest) -> Ledger:
    """Trials, faults and violations of the whole session."""
    return request.config.stash[_LEDGER]


@pytest.fixture(scope="session")
def fault_redis(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PrivateRedis]:
    """A redis-server of the suite's own on a free port: restarting it disturbs nobody else."""
    if not POSTGRES_URL:
        _unavailable("postgres")
    with private_redis(tmp_path_factory.mktemp("redis")) as server:
        yield server


@pytest.fixture
def trial(
    request: pytest.FixtureRequest, fault_redis: PrivateRedis, fault_ledger: Ledger, tmp_path
) -> Callable[..., AbstractContextManager[Trial]]:
    """Open this test's trial: ``with trial(scenario="fleet:8", time_scale=400) as t: ...``."""
    name = request.node.name

    def opener(*, scenario: str, time_scale: float, **kwargs: Any) -> AbstractContextManager[Trial]:
        return open_trial(
            name,
            seed=fault_ledger.seed,
            redis=fault_redis,
            ledger=fault_ledger,
            workdir=tmp_path,
            scenario=scenario,
            time_scale=time_scale,
            **kwargs,
        )

    return opener


def pytest_terminal_summary(terminalreporter: Any, exitstatus: int, config: pytest.Config) -> None:
    ledger = config.stash.get(_LEDGER, None)
    if ledger is None or not ledger.trials:
        return
    write = terminalreporter.write_line
    terminalreporter.section("fault injection")
    write(f"seed {ledger.seed} (reproduce: {SEED_ENV}={ledger.seed} pytest tests/faults)")
    write(f"trials: {len(ledger.trials)}; faults injected: {sum(ledger.faults.values())}")
    for kind, count in sorted(ledger.faults.items()):
        write(f"  {kind}: {count}")
    write("final job states per trial (and deadlocks Postgres resolved in its database):")
    for name, outcome in ledger.outcomes.items():
        write(f"  {name}: {dict(sorted(outcome.items()))} (deadlocks: {ledger.deadlocks.get(name, '?')})")
    if ledger.crashes:
        crashed = ", ".join(f"{name} x{count}" for name, count in sorted(ledger.crashes.items()))
        write(f"processes that exited by themselves and were restarted: {crashed}")
    write(f"invariant violations: {len(ledger.violations)}")
    for name, violation in ledger.violations:
        write(f"  {name}: {violation}")
