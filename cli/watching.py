"""Following a reprotect request until every job is done: a live view on a terminal, readable lines elsewhere.

On a terminal: a progress bar, status and ETA per VM, redrawn in place, and an aggregate line (jobs per state,
the fleet's ETA). Not on a terminal (a CI log, ``| tee``, a file): no cursor tricks, one line per job whose
status changed and the aggregate line whenever something changed (or every ``every`` seconds), each
stamped with the time in UTC.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any, Protocol

import httpx
from rich.console import Console, Group
from rich.live import Live
from rich.progress_bar import ProgressBar
from rich.table import Table
from rich.text import Text

from cli.output import eta_text, parse_time
from cli.problems import checked

STATE_ORDER = ["accepted", "validating", "submitting", "reprotecting", "syncing", "protected", "failed", "cancelled"]
TERMINAL = {"protected", "failed", "cancelled"}
NOT_DONE = ("failed", "cancelled")


def overall_percent(job: dict[str, Any]) -> float:
    """One number for a job's progress: the ASR job's tasks fill the first half, the resync the second."""
    state = job["state"]
    if state == "protected":
        return 100.0
    if state in {"accepted", "validating"}:
        return 1.0
    if state == "submitting":
        return 3.0
    tasks = job.get("asr_tasks") or []
    if state == "reprotecting":
        done = sum(1 for t in tasks if t["state"] in {"Succeeded", "Other", "Skipped"})
        return 5.0 + 45.0 * done / max(1, len(tasks) or 5)
    if state == "syncing":
        return 50.0 + 0.5 * float(job.get("resync_percent") or 0)
    return 100.0 if state in TERMINAL else 0.0


def describe(job: dict[str, Any]) -> str:
    """A short status line for one job."""
    state = job["state"]
    if state == "reprotecting":
        running = next((t["name"] for t in job.get("asr_tasks") or [] if t["state"] == "InProgress"), None)
        return f"reprotecting: {running}" if running else "reprotecting"
    if state == "syncing":
        return f"syncing {job.get('resync_percent') or 0}%"
    if state == "failed" and job.get("error"):
        return f"failed: {job['error']['code']}"
    return str(state)


def fleet_eta(jobs: list[dict[str, Any]]) -> datetime | None:
    """When the last job still in flight should be done (the latest ETA among them)."""
    etas = [parse_time(job.get("eta")) for job in jobs if job["state"] not in TERMINAL]
    known = [eta for eta in etas if eta is not None]
    return max(known) if known else None


def aggregate_line(request: dict[str, Any], now: datetime | None = None) -> str:
    """``3/5 done: syncing 2, protected 2, failed 1; ETA 04:35:10Z (in 5m 03s)``."""
    counts: dict[str, int] = request.get("counts") or {}
    jobs = request.get("jobs") or []
    total = int(request.get("vm_count") or len(jobs) or sum(counts.values()))
    done = sum(counts.get(state, 0) for state in TERMINAL)
    ordered = [*STATE_ORDER, *sorted(set(counts) - set(STATE_ORDER))]
    parts = ", ".join(f"{state} {counts[state]}" for state in ordered if counts.get(state))
    if request.get("completed"):
        return f"{done}/{total} done: {parts or 'no jobs'}"
    eta = fleet_eta(jobs)
    return f"{done}/{total} done: {parts or 'no jobs yet'}; ETA {eta_text(eta, now) if eta else 'unknown'}"


def not_all_done(request: dict[str, Any]) -> bool:
    """Whether some job of a finished request failed or was cancelled (the watch's exit code is then 2)."""
    counts = request.get("counts") or {}
    return any(counts.get(state, 0) for state in NOT_DONE)


class View(Protocol):
    """What the watch loop shows each poll."""

    def show(self, request: dict[str, Any]) -> None: ...

    def close(self) -> None: ...


class LiveView:
    """A terminal: one redrawn table (bar, %, status, ETA per VM) and the aggregate line under it."""

    def __init__(self, console: Console):
        self.live = Live(console=console, auto_refresh=False, transient=False)
        self.live.start()

    def show(self, request: dict[str, Any]) -> None:
        """Redraw with the request's latest state."""
        now = datetime.now(UTC)
        table = Table.grid(padding=(0, 1))
        for job in request.get("jobs") or []:
            percent = overall_percent(job)
            eta = eta_text(job.get("eta"), now) if job["state"] not in TERMINAL else ""
            table.add_row(
                Text(f"{job['vm']:<14}"),
                ProgressBar(total=100, completed=percent, width=36),
                Text(f"{percent:>3.0f}%"),
                Text(describe(job)),
                Text(f"ETA {eta}" if eta else "", style="dim"),
            )
        aggregate = Text(aggregate_line(request, now), style="bold")
        # Live crops what is taller than the terminal: the aggregate line then goes first, to stay in sight.
        fits = len(request.get("jobs") or []) < self.live.console.height - 1
        self.live.update(Group(table, aggregate) if fits else Group(aggregate, table), refresh=True)

    def close(self) -> None:
        """Leave the last frame on screen."""
        self.live.stop()


class LineView:
    """Not a terminal: a line per job whose status changed, and the aggregate line when anything changed."""

    def __init__(self, console: Console, every: float = 30.0):
        self.console = console
        self.every = every
        self.seen: dict[str, str] = {}
        self.last_aggregate = ""
        self.last_printed = 0.0

    def _line(self, text: str) -> None:
        stamp = datetime.now(UTC).strftime("%H:%M:%SZ")
        self.console.print(f"{stamp} {text}", markup=False, highlight=False, soft_wrap=True)

    def show(self, request: dict[str, Any]) -> None:
        """Print what changed since the last poll."""
        now = datetime.now(UTC)
        changed = False
        for job in request.get("jobs") or []:
            status = describe(job)
            if self.seen.get(job["id"]) == status:
                continue
            self.seen[job["id"]] = status
            changed = True
            eta = f"  ETA {eta_text(job.get('eta'), now)}" if job["state"] not in TERMINAL and job.get("eta") else ""
            self._line(f"{job['vm']}: {status}{eta}")
        aggregate = aggregate_line(request, now)
        stale = time.monotonic() - self.last_printed >= self.every
        if changed or (stale and aggregate != self.last_aggregate) or (stale and not request.get("completed")):
            self._line(f"request {request.get('id', '')}: {aggregate}")
            self.last_aggregate = aggregate
            self.last_printed = time.monotonic()

    def close(self) -> None:
        """Nothing to tidy: every line is already printed."""


class Silent:
    """``--output json``: nothing while watching (the final answer is the output)."""

    def show(self, request: dict[str, Any]) -> None:
        """Nothing."""

    def close(self) -> None:
        """Nothing."""


def view_for(console: Console, *, silent: bool = False) -> View:
    """The live view on a terminal, lines elsewhere, nothing when ``silent``."""
    if silent:
        return Silent()
    return LiveView(console) if console.is_terminal else LineView(console)


def follow(
    api: str,
    request_id: str,
    *,
    view: View,
    headers: dict[str, str],
    poll: float = 1.0,
    alive: Callable[[], None] | None = None,
) -> dict[str, Any]:
    """Poll ``GET /reprotect/{id}`` and show it until the request is completed; returns the final answer."""
    try:
        with httpx.Client(base_url=api, headers=headers, timeout=30) as http:
            while True:
                request: dict[str, Any] = checked(http.get(f"/reprotect/{request_id}"))
                view.show(request)
                if request["completed"]:
                    return request
                if alive is not None:
                    alive()  # raises when a process of the stack died
                time.sleep(poll)
    finally:
        view.close()
