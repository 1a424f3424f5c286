"""The hub's life inside the API lifespan, and an early end of open streams when the server is told to stop.

Uvicorn's graceful shutdown waits for open responses before it runs the lifespan's shutdown, and an
event stream never finishes by itself: so the hub also hears SIGTERM/SIGINT (chained in front of the
server's own handlers) and ends every stream at once; clients reconnect elsewhere with ``Last-Event-ID``.
"""

from __future__ import annotations

import asyncio
import signal
import threading
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from types import FrameType
from typing import Any

from fastapi import FastAPI
from sqlalchemy.orm import Session, sessionmaker

from app.events.hub import Hub
from app.settings import EventSettings

_EXIT_SIGNALS = (signal.SIGINT, signal.SIGTERM)


@asynccontextmanager
async def running(app: FastAPI, sessions: sessionmaker[Session], settings: EventSettings) -> AsyncIterator[Hub]:
    """Start the process's poller for the lifespan; stop it (and every stream) afterwards."""
    hub = Hub(sessions, settings)
    await hub.start()
    app.state.event_hub = hub
    restore = _end_streams_on_exit_signals(hub)
    try:
        yield hub
    finally:
        restore()
        await hub.stop()


def _end_streams_on_exit_signals(hub: Hub) -> Callable[[], None]:
    """Chain a handler that closes the hub's streams before the server's own; returns the undo."""
    if threading.current_thread() is not threading.main_thread():
        return lambda: None  # only the main thread may set handlers (in-process test clients run elsewhere)
    loop = asyncio.get_running_loop()
    installed: dict[int, tuple[Any, Any]] = {}
    for sig in _EXIT_SIGNALS:
        previous = signal.getsignal(sig)
        if not callable(previous):
            continue

        def chained(signum: int, frame: FrameType | None, _previous: Any = previous) -> None:
            loop.call_soon_threadsafe(hub.close_streams)
            _previous(signum, frame)

        signal.signal(sig, chained)
        installed[sig] = (previous, chained)

    def restore() -> None:
        for sig, (previous, chained) in installed.items():
            if signal.getsignal(sig) is chained:
                signal.signal(sig, previous)

    return restore
