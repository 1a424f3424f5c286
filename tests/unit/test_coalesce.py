"""Identical reads arriving together share one run, and never an answer read before they arrived."""

from __future__ import annotations

import asyncio

import pytest
from prometheus_client import REGISTRY

from app.api.coalesce import Coalescer


class Store:
    """A value that changes, read slowly (a read takes ``delay`` and sees the value as it was when it began)."""

    def __init__(self, delay: float = 0.02):
        self.value = 0
        self.reads = 0
        self.delay = delay

    async def read(self) -> int:
        seen = self.value
        self.reads += 1
        await asyncio.sleep(self.delay)
        return seen


def test_requests_arriving_together_share_one_read():
    async def scenario() -> None:
        coalescer, store = Coalescer(), Store()
        answers = await asyncio.gather(*(coalescer.run("/shared-test", "page", store.read) for _ in range(64)))
        assert answers == [0] * 64
        assert (store.reads, coalescer.runs, coalescer.joined) == (1, 1, 63)
        shared = REGISTRY.get_sample_value("reprotect_http_reads_shared_total", {"route": "/shared-test"})
        assert shared == 63

    asyncio.run(scenario())


def test_a_request_arriving_during_a_read_gets_a_read_that_starts_after_it():
    async def scenario() -> None:
        coalescer, store = Coalescer(), Store()
        first = asyncio.ensure_future(coalescer.run("/jobs", "page", store.read))
        await asyncio.sleep(0.005)  # the first read is under way and saw 0
        store.value = 1  # a client changes a job, then lists
        late = [asyncio.ensure_future(coalescer.run("/jobs", "page", store.read)) for _ in range(5)]
        assert await first == 0
        assert await asyncio.gather(*late) == [1] * 5  # one new read for the five, after the change
        assert store.reads == 2
        # Alone again: a request costs exactly its own read.
        store.value = 2
        assert await coalescer.run("/jobs", "page", store.read) == 2
        assert store.reads == 3

    asyncio.run(scenario())


def test_different_keys_never_share():
    async def scenario() -> None:
        coalescer = Coalescer()

        async def answer(text: str) -> str:
            await asyncio.sleep(0.01)
            return text

        keys = [("scope-a",), ("scope-b",), ("scope-a", "cursor")]
        answers = await asyncio.gather(*(coalescer.run("/jobs", key, lambda k=key: answer(repr(k))) for key in keys))
        assert answers == [repr(key) for key in keys]
        assert coalescer.runs == 3

    asyncio.run(scenario())


def test_an_error_is_every_joined_requests_answer_and_the_next_request_reads_again():
    async def scenario() -> None:
        coalescer, calls = Coalescer(), []

        async def failing() -> int:
            calls.append(1)
            await asyncio.sleep(0.01)
            raise LookupError("no such cursor")

        outcomes = await asyncio.gather(
            *(coalescer.run("/jobs", "k", failing) for _ in range(3)), return_exceptions=True
        )
        assert [type(o) for o in outcomes] == [LookupError] * 3
        assert len(calls) == 1
        with pytest.raises(LookupError):
            await coalescer.run("/jobs", "k", failing)
        assert len(calls) == 2

    asyncio.run(scenario())


def test_a_caller_that_goes_away_does_not_cancel_the_read_the_others_wait_for():
    async def scenario() -> None:
        coalescer, store = Coalescer(), Store(delay=0.05)
        leaving = asyncio.ensure_future(coalescer.run("/jobs", "page", store.read))
        staying = asyncio.ensure_future(coalescer.run("/jobs", "page", store.read))
        await asyncio.sleep(0.01)
        leaving.cancel()
        assert await staying == 0
        assert leaving.cancelled()
        assert store.reads == 1

    asyncio.run(scenario())
