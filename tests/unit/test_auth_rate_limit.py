"""Per-principal rate limit: the limit holds per principal, the refusal says when to come back, and a
broken storage lets requests through rather than locking everybody out."""

from __future__ import annotations

import logging
import socket
import time

import pytest
from pydantic import ValidationError

from app.auth.rate_limit import RateLimiter
from app.settings import RateLimitConfig


def closed_port() -> int:
    """A loopback port nothing listens on (bound, then released)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def test_the_limit_allows_n_requests_then_refuses_with_a_retry_after():
    limiter = RateLimiter(RateLimitConfig(limit="3/minute"))

    decisions = [limiter.hit("alice") for _ in range(4)]

    assert [d.allowed for d in decisions] == [True, True, True, False]
    assert [d.remaining for d in decisions] == [2, 1, 0, 0]
    assert all(d.limit == 3 and not d.degraded for d in decisions)
    assert decisions[0].retry_after_seconds == 0
    assert 1 <= decisions[3].retry_after_seconds <= 60


def test_principals_are_counted_separately():
    limiter = RateLimiter(RateLimitConfig(limit="1/minute"))

    assert limiter.hit("alice").allowed
    assert not limiter.hit("alice").allowed
    assert limiter.hit("bob").allowed
    assert limiter.hit("key:0123abcd").allowed


def test_a_refusal_asks_to_come_back_when_the_oldest_request_leaves_the_window():
    limiter = RateLimiter(RateLimitConfig(limit="1/second"))

    assert limiter.hit("alice").allowed
    assert limiter.hit("alice").retry_after_seconds == 1


def test_a_disabled_limiter_allows_everything_without_counting():
    limiter = RateLimiter(RateLimitConfig(limit="1/minute", enabled=False))

    assert all(limiter.hit("alice").allowed for _ in range(5))
    assert not limiter.hit("alice").degraded


def test_an_unreachable_storage_fails_open_with_one_warning_then_is_left_alone(caplog):
    now = [0.0]
    config = RateLimitConfig(limit="1/minute", storage_uri=f"redis://127.0.0.1:{closed_port()}", fail_open_seconds=30)
    limiter = RateLimiter(config, clock=lambda: now[0])

    with caplog.at_level(logging.WARNING, logger="app.auth.rate_limit"):
        started = time.monotonic()
        decisions = [limiter.hit("alice") for _ in range(5)]
        elapsed = time.monotonic() - started

    assert all(d.allowed and d.degraded for d in decisions)
    assert elapsed < 2  # a refused connection, not a hang
    assert len(caplog.records) == 1
    assert "letting requests through" in caplog.records[0].getMessage()

    now[0] = 31.0  # past fail_open_seconds the storage is tried (and warned about) again
    with caplog.at_level(logging.WARNING, logger="app.auth.rate_limit"):
        assert limiter.hit("alice").degraded
    assert len(caplog.records) == 2


@pytest.mark.parametrize("limit", ["lots", "0/minute", "600/fortnight"])
def test_a_nonsense_limit_is_refused_at_load(limit):
    with pytest.raises(ValidationError):
        RateLimitConfig(limit=limit)


def test_an_async_storage_is_refused():
    with pytest.raises(ValueError, match="synchronous"):
        RateLimiter(RateLimitConfig(storage_uri="async+memory://"))
