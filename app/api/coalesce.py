"""Identical reads arriving together share one run: dashboards polling the same list cost one read at a time.

A request joins a run only while that run has not started, so every answer comes from a read that began after
the request arrived: coalescing never serves anything older than the request's own read would have (a client
that changed a job and then lists sees its change). While a run for a key is in flight, requests for the same
key gather in the next run, which starts the moment the current one ends. Sixty-four dashboards asking for the
same page at once thus cost two reads, not sixty-four; one asking alone costs exactly its own read.

A key must hold everything the answer depends on: the route, its parameters and the caller's scopes (never
the caller's identity, so callers of the same scopes share). An error is every joined request's answer, as each
would have had it on its own (the same exception object, raised in each). A caller that goes away does not
cancel the run the others wait for. A run's own log lines carry the request id of the request that began it.

Per event loop (one per API process); created at startup, so a run never straddles two loops.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Hashable
from typing import Any, TypeVar

from app.metrics import definitions as m

T = TypeVar("T")


class Coalescer:
    """Runs ``compute`` once for every request of a key that arrived before the run started."""

    def __init__(self) -> None:
        self._waiting: dict[Hashable, asyncio.Future[Any]] = {}  # runs not started yet, joinable
        self._running: dict[Hashable, asyncio.Future[Any]] = {}  # runs started, no longer joinable
        self.runs = 0  # how many runs were made (for tests and the benchmark)
        self.joined = 0  # how many requests were answered by a run another request began

    async def run(self, route: str, key: Hashable, compute: Callable[[], Awaitable[T]]) -> T:
        """``compute()``'s answer from a run that starts no earlier than this call; ``route`` (a route
        template) is part of the key and labels the shared answers' metric."""
        full_key = (route, key)
        waiting = self._waiting.get(full_key)
        if waiting is None:
            waiting = self._waiting[full_key] = asyncio.ensure_future(self._next_run(full_key, compute))
            waiting.add_done_callback(_retrieved)  # every caller may have gone: no "never retrieved" warning
        else:
            self.joined += 1
            m.HTTP_READS_SHARED.labels(route).inc()
        try:
            answer: T = await asyncio.shield(waiting)
        finally:
            if waiting.done() and self._waiting.get(full_key) is waiting:  # cancelled before it began (shutdown)
                del self._waiting[full_key]
        return answer

    async def _next_run(self, key: Hashable, compute: Callable[[], Awaitable[T]]) -> T:
        current = self._running.get(key)
        if current is not None:  # the run in flight began before some of our requests: wait, then read anew
            await asyncio.wait([current])
        this = self._waiting.pop(key)  # from here on not joinable (a run cancelled before this point: see run)
        self._running[key] = this
        self.runs += 1
        try:
            return await compute()
        finally:
            if self._running.get(key) is this:
                del self._running[key]


def _retrieved(run: asyncio.Future[Any]) -> None:
    if not run.cancelled():
        run.exception()


async def shared(state: Any, route: str, key: Hashable, compute: Callable[[], Awaitable[T]]) -> T:
    """``compute()`` through the app's coalescer (``state.coalescer``, made at startup), or alone without one."""
    coalescer: Coalescer | None = getattr(state, "coalescer", None)
    if coalescer is None:
        return await compute()
    return await coalescer.run(route, key, compute)
