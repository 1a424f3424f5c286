"""The read path's blocking work (a pooled database connection) off the event loop, a few at a time.

Sync routes run in Starlette's shared pool of 40 threads: under load 40 threads then fight for the GIL and
for a connection pool of ``pool_size`` (+ as many overflow connections, each opened and closed again per
request). Reads instead run through one capacity limiter per event loop, no wider than the pool, so they
never wait for a connection nor open one, and the rest of each request (auth, parameters, the answer)
stays on the loop.
"""

from __future__ import annotations

import asyncio
import functools
import weakref
from collections.abc import Callable
from typing import Any, TypeVar

from anyio import CapacityLimiter, to_thread

from app.bootstrap import Container

T = TypeVar("T")
# More threads only fight the event loop for the GIL: a read holds it for most of its time (4 vs 10
# measured: +5-7 % req/s and a lower p99 on GET /jobs/{id} and GET /jobs); a database a round trip away
# still serves 4 reads per round trip time at once per process.
READ_THREADS = 4
_LIMITERS: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, CapacityLimiter] = weakref.WeakKeyDictionary()


def _limiter(container: Container) -> CapacityLimiter:
    loop = asyncio.get_running_loop()
    limiter = _LIMITERS.get(loop)
    if limiter is None:
        limiter = _LIMITERS[loop] = CapacityLimiter(max(1, min(READ_THREADS, container.settings.database.pool_size)))
    return limiter


async def read(container: Container, function: Callable[..., T], /, *args: Any, **kwargs: Any) -> T:
    """``function(*args, **kwargs)`` in a worker thread, at most ``READ_THREADS`` (``pool_size`` if fewer) at once."""
    call = functools.partial(function, *args, **kwargs) if kwargs else functools.partial(function, *args)
    return await to_thread.run_sync(call, limiter=_limiter(container))
