"""The read path's blocking work (a pooled database connection) off the event loop, a few at a time.

Sync routes run in Starlette's shared pool of 40 threads: under load 40 threads then fight for the GIL and
for a connection pool of ``pool_size`` (+ as many overflow connections, each opened and closed again per
request). Reads instead run through one capacity limiter per event loop sized to the pool, so they never
wait for a connection nor open one, and the rest of each request (auth, parameters, the answer) stays on
the loop.
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
_LIMITERS: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, CapacityLimiter] = weakref.WeakKeyDictionary()


def _limiter(container: Container) -> CapacityLimiter:
    loop = asyncio.get_running_loop()
    limiter = _LIMITERS.get(loop)
    if limiter is None:
        limiter = _LIMITERS[loop] = CapacityLimiter(max(1, container.settings.database.pool_size))
    return limiter


async def read(container: Container, function: Callable[..., T], /, *args: Any, **kwargs: Any) -> T:
    """``function(*args, **kwargs)`` in a worker thread, at most ``pool_size`` at once."""
    call = functools.partial(function, *args, **kwargs) if kwargs else functools.partial(function, *args)
    return await to_thread.run_sync(call, limiter=_limiter(container))
