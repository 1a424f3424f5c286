"""Following a campaign until it ends: a readable line whenever it moves (state, step, the step's VMs per state,
the ETA), the gate it waits at with what to do, and, only when asked, the gates approved on the operator's behalf.

Lines, not a redrawn screen: a campaign runs for hours and its log is read later (each line stamped in UTC).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import httpx
from rich.console import Console

from cli.campaigns_view import counts_text, current_step, step_name, what_to_do
from cli.output import eta_text
from cli.problems import ApiProblem, checked

ENDED = {"completed", "stopped", "aborted"}
Approver = Callable[[dict[str, Any]], None]


def progress_line(campaign: dict[str, Any]) -> str:
    """``running · failover wave 1 (step 4/7): reprotecting 1, done 1 · ETA 04:35:10Z (in 5m 03s)``."""
    state = campaign["state"]
    step = current_step(campaign)
    if step is None:
        done = sum(1 for s in campaign["steps"] if s["state"] == "done")
        return f"{state}: {done}/{len(campaign['steps'])} steps done"
    where = f"{step_name(step['phase'], step['wave'])} (step {step['position'] + 1}/{len(campaign['steps'])})"
    line = f"{state} · {where}: {counts_text(step) if step['state'] != 'pending' else 'starting'}"
    if step["gate"].get("state") == "pending":
        line += f" · {step['gate']['kind']} gate pending"
    return line + (f" · ETA {eta_text(campaign['eta_at'])}" if campaign.get("eta_at") else "")


class CampaignLines:
    """A stamped line when the campaign moved (or every ``every`` seconds), and what to do when it waits."""

    def __init__(self, console: Console, *, every: float = 30.0, prefix: str = ""):
        self.console = console
        self.every = every
        self.prefix = prefix
        self.last_line = ""
        self.last_hint = ""
        self.last_printed = 0.0

    def say(self, text: str) -> None:
        """One stamped line, as it is (no markup)."""
        stamp = datetime.now(UTC).strftime("%H:%M:%SZ")
        self.console.print(f"{stamp} {self.prefix}{text}", markup=False, highlight=False, soft_wrap=True)

    def show(self, campaign: dict[str, Any]) -> None:
        """Print what changed since the last poll."""
        line = progress_line(campaign)
        moved = line.split(" · ETA ")[0] != self.last_line.split(" · ETA ")[0]  # a new ETA alone is no news
        if moved or time.monotonic() - self.last_printed >= self.every:
            self.say(line)
            self.last_line = line
            self.last_printed = time.monotonic()
        hint = what_to_do(campaign) or ""
        if hint and hint != self.last_hint:
            self.say(f"next: {hint}")
        self.last_hint = hint


class Quiet(CampaignLines):
    """``--output json``: nothing while watching (the final campaign is the output)."""

    def say(self, text: str) -> None:
        """Nothing."""


def approve_at(http: httpx.Client, reason: str, *, announce: Approver | None = None) -> Approver:
    """Approve whatever gate the campaign waits at, with ``reason``, after ``announce`` says so. A 409 (a sweeper
    moved the campaign at the same moment) is left to the next poll, which approves again only if the gate still
    waits."""

    def approve(campaign: dict[str, Any]) -> None:
        if announce is not None:
            announce(campaign)
        try:
            checked(http.post(f"/campaigns/{campaign['id']}/approve", json={"reason": reason}))
        except ApiProblem as problem:
            if problem.status != 409:
                raise

    return approve


def follow(
    http: httpx.Client,
    campaign_id: str,
    *,
    view: CampaignLines,
    approve: Approver | None = None,
    poll: float = 2.0,
    alive: Callable[[], None] | None = None,
) -> dict[str, Any]:
    """Poll ``GET /campaigns/{id}`` until the campaign has ended (completed, stopped or aborted); returns it.
    At a manual gate: ``approve`` (when given) is called, else the line says what the operator should do."""
    while True:
        campaign: dict[str, Any] = checked(http.get(f"/campaigns/{campaign_id}"))
        view.show(campaign)
        if campaign["state"] in ENDED:
            return campaign
        if campaign["state"] == "waiting_gate" and approve is not None:
            approve(campaign)  # the next poll shows it going on
        if alive is not None:
            alive()  # raises when a process of the embedded stack died
        time.sleep(poll)
