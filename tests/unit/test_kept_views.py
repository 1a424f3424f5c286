"""Stale-while-revalidate (``app.fleet.kept``) with a clock the test moves and a loader it holds and lets go,
on real threads: a stale view answers at once while one background load per key renews it, only a cold or
too old view makes callers wait (all of them on one load), a failed renewal is logged and the old view stays
until too old, and one key's view never answers another key."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

import pytest

from app.fleet.kept import KeptViews

TTL, MAX_AGE = 2.0, 10.0
WAIT = 5.0  # seconds a test waits for a background thread before failing


class Clock:
    """Time that moves only when the test says so."""

    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


class Loader:
    """Counts its loads, returns ``v1``, ``v2``… (or raises while ``failing``), and can be held: a held load
    blocks until :meth:`release`, so the test sees what callers get meanwhile."""

    def __init__(self, prefix: str = "v", *, during: Callable[[], None] = lambda: None) -> None:
        self.prefix = prefix
        self.during = during  # run inside each load (e.g. to let the test's clock move while it lasts)
        self.calls = 0
        self.running = 0
        self.most_at_once = 0
        self.failing = False
        self.started = threading.Event()
        self._gate = threading.Event()
        self._gate.set()
        self._lock = threading.Lock()

    def hold(self) -> None:
        self.started.clear()
        self._gate.clear()

    def release(self) -> None:
        self._gate.set()

    def __call__(self) -> str:
        with self._lock:
            self.calls += 1
            number = self.calls
            self.running += 1
            self.most_at_once = max(self.most_at_once, self.running)
        self.started.set()
        try:
            assert self._gate.wait(WAIT), "the test never released the load"
            self.during()
            if self.failing:
                raise RuntimeError("the database went away")
            return f"{self.prefix}{number}"
        finally:
            with self._lock:
                self.running -= 1


def get(kept: KeptViews[str, str], load: Loader, key: str = "scope-a", basis: object = "b1") -> str:
    return kept.get(key, basis, load, ttl=TTL, max_age=MAX_AGE)


def eventually(check: Callable[[], bool]) -> None:
    deadline = time.monotonic() + WAIT
    while not check():
        assert time.monotonic() < deadline, "the background refresh never finished"
        time.sleep(0.005)


def at_once(calls: int, fn: Callable[[], str]) -> list[str]:
    with ThreadPoolExecutor(max_workers=calls) as pool:
        return list(pool.map(lambda _: fn(), range(calls)))


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def kept(clock: Clock) -> KeptViews[str, str]:
    return KeptViews(clock=clock, name="test view")


def test_callers_at_a_cold_start_wait_for_one_load_and_share_it(kept, clock):
    load = Loader()
    load.hold()
    with ThreadPoolExecutor(max_workers=8) as pool:
        answers = [pool.submit(get, kept, load) for _ in range(8)]
        assert load.started.wait(WAIT)
        time.sleep(0.05)
        assert not any(a.done() for a in answers)  # nothing kept yet: every caller waits
        load.release()
        assert [a.result(WAIT) for a in answers] == ["v1"] * 8
    assert (load.calls, load.most_at_once) == (1, 1)


def test_a_view_younger_than_the_ttl_is_served_without_loading(kept, clock):
    load = Loader()
    assert get(kept, load) == "v1"
    clock.now += TTL - 0.01
    assert at_once(8, lambda: get(kept, load)) == ["v1"] * 8
    time.sleep(0.05)
    assert load.calls == 1


def test_a_stale_view_answers_at_once_while_one_background_load_renews_it(kept, clock):
    load = Loader()
    assert get(kept, load) == "v1"
    clock.now += TTL + 1
    load.hold()
    assert at_once(16, lambda: get(kept, load)) == ["v1"] * 16  # answered while the renewal is held
    assert load.started.wait(WAIT)
    assert get(kept, load) == "v1"
    assert (load.calls, load.running) == (2, 1)  # one renewal for 17 callers, never one per caller
    assert [t.name for t in threading.enumerate()].count("test view-refresh") == 1  # not even a waiting one
    load.release()
    eventually(lambda: get(kept, load) == "v2")
    clock.now += 1  # the renewed view is fresh: no further load
    assert get(kept, load) == "v2"
    time.sleep(0.05)
    assert (load.calls, load.most_at_once) == (2, 1)


def test_the_ttl_counts_from_the_end_of_a_slow_load_and_the_hard_limit_from_its_start(kept, clock):
    """A busy process decides slowly: the next renewal waits a full TTL after the last one ended, but the
    data's age (what the hard limit bounds) counts from when the load began to read it."""

    def takes_a_while() -> None:
        clock.now += 1.5

    load = Loader(during=takes_a_while)
    assert get(kept, load) == "v1"  # loaded from 100.0 to 101.5
    clock.now = 101.5 + TTL - 0.1
    assert get(kept, load) == "v1"
    time.sleep(0.05)
    assert load.calls == 1  # not renewed: the last load ended less than a TTL ago
    clock.now = 101.5 + TTL
    assert get(kept, load) == "v1"
    eventually(lambda: load.calls == 2 and load.running == 0)
    clock.now = 103.5 + MAX_AGE - 0.1  # v2 was loaded from 103.5: still servable, stale
    load.during = lambda: None
    load.hold()
    assert get(kept, load) == "v2"
    assert load.started.wait(WAIT)
    load.release()
    eventually(lambda: get(kept, load) == "v3")


def test_a_view_decided_from_another_basis_is_served_while_it_is_renewed(kept, clock):
    """Newer vault lists (another basis) renew the view in the background even inside the TTL."""
    load = Loader()
    assert get(kept, load, basis="lists read at 10:00") == "v1"
    load.hold()
    assert get(kept, load, basis="lists read at 10:01") == "v1"
    assert load.started.wait(WAIT)
    load.release()
    eventually(lambda: get(kept, load, basis="lists read at 10:01") == "v2")
    time.sleep(0.05)
    assert load.calls == 2


def test_a_view_older_than_the_hard_limit_is_not_served_the_caller_waits(kept, clock):
    load = Loader()
    assert get(kept, load) == "v1"
    clock.now += MAX_AGE
    load.hold()
    with ThreadPoolExecutor(max_workers=4) as pool:
        answers = [pool.submit(get, kept, load) for _ in range(4)]
        assert load.started.wait(WAIT)
        time.sleep(0.05)
        assert not any(a.done() for a in answers)
        load.release()
        assert [a.result(WAIT) for a in answers] == ["v2"] * 4  # never the old view
    assert (load.calls, load.most_at_once) == (2, 1)


def test_a_caller_past_the_hard_limit_waits_for_the_renewal_in_flight_instead_of_loading_again(kept, clock):
    load = Loader()
    assert get(kept, load) == "v1"
    clock.now += TTL + 1
    load.hold()
    assert get(kept, load) == "v1"  # starts the renewal, which is held
    assert load.started.wait(WAIT)
    clock.now = 100.0 + MAX_AGE + 0.5  # the view in hand is now too old to serve; the one being built is not
    with ThreadPoolExecutor(max_workers=4) as pool:
        waiting = [pool.submit(get, kept, load) for _ in range(4)]
        time.sleep(0.05)
        assert not any(w.done() for w in waiting)
        load.release()
        assert [w.result(WAIT) for w in waiting] == ["v2"] * 4
    assert (load.calls, load.most_at_once) == (2, 1)


def test_a_failed_renewal_is_logged_and_the_old_view_served_until_the_hard_limit(kept, clock, caplog):
    load = Loader()
    assert get(kept, load) == "v1"
    load.failing = True
    clock.now += TTL + 1
    with caplog.at_level(logging.ERROR, logger="app.fleet.kept"):
        assert get(kept, load) == "v1"
        eventually(lambda: load.calls == 2 and load.running == 0 and bool(caplog.records))
    [record] = caplog.records
    assert "background refresh failed" in record.getMessage()
    assert "scope-a" in record.getMessage()
    assert record.exc_info is not None
    assert at_once(8, lambda: get(kept, load)) == ["v1"] * 8  # still served
    time.sleep(0.05)
    assert load.calls == 2  # a failed renewal is not retried by every caller: once per TTL
    clock.now += TTL
    assert get(kept, load) == "v1"
    eventually(lambda: load.calls == 3 and load.running == 0)
    clock.now = 100.0 + MAX_AGE  # too old now: the caller loads itself, and hears the error
    with pytest.raises(RuntimeError, match="database went away"):
        get(kept, load)
    load.failing = False
    assert get(kept, load) == "v5"


def test_one_keys_view_never_answers_another_key_and_each_is_renewed_on_its_own(kept, clock):
    loads = {key: Loader(prefix=f"{key}:") for key in ("scope-a", "scope-b")}
    assert get(kept, loads["scope-a"], key="scope-a") == "scope-a:1"
    assert get(kept, loads["scope-b"], key="scope-b") == "scope-b:1"  # a cold start of its own
    clock.now += TTL + 1
    loads["scope-a"].hold()
    loads["scope-b"].hold()
    answers = at_once(8, lambda: get(kept, loads["scope-a"], key="scope-a"))
    answers += at_once(8, lambda: get(kept, loads["scope-b"], key="scope-b"))
    assert answers == ["scope-a:1"] * 8 + ["scope-b:1"] * 8
    assert loads["scope-a"].started.wait(WAIT)  # one renewal per key
    assert loads["scope-b"].started.wait(WAIT)
    for load in loads.values():
        load.release()
    eventually(lambda: get(kept, loads["scope-a"], key="scope-a") == "scope-a:2")
    eventually(lambda: get(kept, loads["scope-b"], key="scope-b") == "scope-b:2")
    assert [load.calls for load in loads.values()] == [2, 2]


def test_a_ttl_of_zero_keeps_nothing(kept, clock):
    load = Loader()
    assert [kept.get("scope-a", "b1", load, ttl=0, max_age=MAX_AGE) for _ in range(3)] == ["v1", "v2", "v3"]


def test_past_the_most_keys_the_oldest_view_is_let_go(clock):
    kept: KeptViews[str, str] = KeptViews(clock=clock, max_keys=2)
    loads = {key: Loader(prefix=f"{key}:") for key in "abc"}
    for key in "abc":
        clock.now += 1
        assert get(kept, loads[key], key=key) == f"{key}:1"
    assert get(kept, loads["c"], key="c") == "c:1"
    assert get(kept, loads["b"], key="b") == "b:1"
    assert get(kept, loads["a"], key="a") == "a:2"  # "a", the oldest, was let go and is decided again
