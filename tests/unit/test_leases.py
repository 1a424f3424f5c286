"""The backoff every leased kind of work uses: exponential with jitter, capped, never sooner than Retry-After."""

from __future__ import annotations

import random

import pytest

from app.leases import Backoff


@pytest.fixture(autouse=True)
def _seeded():
    random.seed(1234)


def test_no_failure_and_no_retry_after_means_no_wait():
    assert Backoff(base_seconds=2, ceiling_seconds=300).delay(0) == 0.0


@pytest.mark.parametrize("failures", [1, 2, 3, 4, 5, 6])
def test_the_wait_doubles_with_each_failure_within_its_jitter(failures):
    policy = Backoff(base_seconds=2, ceiling_seconds=1000, jitter=(0.5, 1.0))
    ceiling = 2 * 2 ** (failures - 1)
    waits = [policy.delay(failures) for _ in range(200)]
    assert all(ceiling * 0.5 <= w <= ceiling for w in waits)
    assert max(waits) - min(waits) > ceiling * 0.3  # it is jittered, not fixed


def test_the_wait_never_exceeds_the_ceiling_times_the_jitter():
    policy = Backoff(base_seconds=5, ceiling_seconds=60, jitter=(0.75, 1.25))
    assert all(45 <= policy.delay(n) <= 75 for n in range(5, 40))


def test_thousands_of_failures_stay_at_the_ceiling_without_overflowing():
    policy = Backoff(base_seconds=2, ceiling_seconds=300, jitter=(1.0, 1.0))
    assert policy.delay(1025) == 300.0
    assert policy.delay(10**6) == 300.0


def test_retry_after_is_a_floor_spread_upwards_only():
    policy = Backoff(base_seconds=0.05, ceiling_seconds=0.5, jitter=(0.5, 1.0), retry_after_spread=(1.0, 1.5))
    throttled = [policy.delay(0, retry_after=16) for _ in range(200)]
    assert all(16 <= w <= 24 for w in throttled)
    assert max(throttled) > 20  # spread, so a throttled fleet does not come back in one burst
    assert all(policy.delay(3, retry_after=16) >= 16 for _ in range(50))


def test_a_backoff_longer_than_retry_after_wins():
    policy = Backoff(base_seconds=100, ceiling_seconds=1000, jitter=(1.0, 1.0))
    assert policy.delay(2, retry_after=5) == 200.0
