"""The simulated clock: real monotonic time times a scale, accumulated so scale changes never rewind."""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

NEVER = "0001-01-01T00:00:00"  # what ASR writes for times that never happened
NO_SCENARIO_TIME = "1753-01-01T01:01:01Z"  # ASR's currentScenario.startTime when nothing runs


class SimClock:
    """Simulated seconds since start; ``advance`` jumps ahead, ``set_scale`` changes the speed."""

    def __init__(
        self,
        time_scale: float,
        *,
        monotonic: Callable[[], float] = time.monotonic,
        epoch: datetime | None = None,
    ):
        self._monotonic = monotonic
        self._scale = float(time_scale)
        self._anchor_real = monotonic()
        self._anchor_sim = 0.0
        self.epoch = epoch or datetime.now(UTC)

    @property
    def time_scale(self) -> float:
        """Simulated seconds per real second."""
        return self._scale

    def now(self) -> float:
        """Simulated seconds since start."""
        return self._anchor_sim + (self._monotonic() - self._anchor_real) * self._scale

    def set_scale(self, time_scale: float) -> None:
        """Change speed from now on (time already simulated stays simulated)."""
        self._anchor_sim = self.now()
        self._anchor_real = self._monotonic()
        self._scale = float(time_scale)

    def advance(self, seconds: float) -> None:
        """Jump the simulated clock forward."""
        self._anchor_sim += max(0.0, float(seconds))

    def at(self, sim_seconds: float) -> datetime:
        """The UTC wall time of a simulated instant."""
        return self.epoch + timedelta(seconds=sim_seconds)

    def iso(self, sim_seconds: float | None) -> str | None:
        """ASR's timestamp format (seven fractional digits, ``Z``) for a simulated instant."""
        if sim_seconds is None:
            return None
        return iso(self.at(sim_seconds))


def iso(moment: datetime) -> str:
    """``2025-04-09T08:49:20.8930890Z``."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f") + "0Z"
