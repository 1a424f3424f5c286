"""Worker step metrics: the wall time of each step (Azure calls included) and the waits Azure's throttling
imposes on jobs. One-line hooks in ``app.job.runner``; the transition metrics are in ``transitions``."""

from __future__ import annotations

import functools
import time
from collections.abc import Callable
from typing import Any, ParamSpec, TypeVar

from app.metrics import definitions as m

P = ParamSpec("P")
R = TypeVar("R")


def timed_step(run: Callable[P, R]) -> Callable[P, R]:
    """Decorator for ``app.job.runner.run``: the step's wall time by the state its job was in."""

    @functools.wraps(run)
    def timed(*args: P.args, **kwargs: P.kwargs) -> R:
        started = time.perf_counter()
        try:
            return run(*args, **kwargs)
        finally:
            claimed: Any = args[1] if len(args) > 1 else kwargs.get("claimed")
            state = getattr(getattr(getattr(claimed, "view", None), "state", None), "value", "unknown")
            m.JOB_STEP_DURATION.labels(state).observe(time.perf_counter() - started)

    return timed


def throttled(delay: float | None) -> None:
    """A step was throttled by Azure; the job is put off ``delay`` seconds."""
    m.JOB_THROTTLED.inc()
    if delay is not None:
        m.JOB_THROTTLED_WAIT.inc(max(0.0, delay))
