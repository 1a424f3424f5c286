"""What request handlers and the admin views see of the running emulator (``runtime.Emulator``): its world,
clock, engine, counters and id source. A protocol, so that the router and the handlers below the runtime
never import the runtime that builds them."""

from __future__ import annotations

from typing import Protocol

from emulator.clock import SimClock
from emulator.engine import Engine
from emulator.state import World
from emulator.stats import Stats


class RuntimeView(Protocol):
    """The parts of ``runtime.Emulator`` a handler may use; it is replaced whole on reset."""

    @property
    def world(self) -> World:
        """The emulated resources, vaults and jobs."""
        ...

    @property
    def clock(self) -> SimClock:
        """The simulated clock."""
        ...

    @property
    def engine(self) -> Engine:
        """The simulation that runs the jobs."""
        ...

    @property
    def stats(self) -> Stats:
        """The request counters."""
        ...

    def new_guid(self) -> str:
        """A seeded GUID for request ids and operations."""
        ...
