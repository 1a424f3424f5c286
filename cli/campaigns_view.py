"""Campaigns for people: the ``campaigns list`` table, the ``campaigns show`` page, a dry run's plan, the line
after a control action, and the words shared with ``campaigns watch`` (a step's name, its counts, what to do)."""

from __future__ import annotations

from typing import Any

from rich import box
from rich.console import Console
from rich.markup import escape
from rich.table import Column, Table

from cli.output import duration, eta_text, short_time

# Jobs of every kind share the reprotect job's states; only for the reprotect kinds are they the words to read.
# For the others `reprotecting` means the ASR operation runs, `syncing` that the item settles, `protected` done.
PROTECTING = {"reprotect", "reprotect_back"}
OTHER_KINDS_WORDS = {"reprotecting": "running", "syncing": "settling", "protected": "done"}
COUNT_ORDER = ["accepted", "validating", "submitting", "reprotecting", "syncing", "protected", "failed", "cancelled"]


def step_name(phase: str | None, wave: int | None) -> str:
    """``failover wave 2``, ``drill``; ``-`` once the campaign has ended."""
    if not phase:
        return "-"
    return f"{phase} wave {wave}" if wave else phase


def job_state_word(phase: str, state: str) -> str:
    """A job's state as people read it in this phase: a drill's finished job is ``done``, not ``protected``."""
    return state if phase in PROTECTING else OTHER_KINDS_WORDS.get(state, state)


def counts_text(step: dict[str, Any]) -> str:
    """``reprotecting 1, done 2, skipped 1``: the step's VMs per state (nothing shown for zero)."""
    counts: dict[str, int] = step.get("counts") or {}
    ordered = [*COUNT_ORDER, *sorted(set(counts) - {*COUNT_ORDER, "skipped", "refused"}), "skipped", "refused"]
    parts = [f"{job_state_word(step['phase'], name)} {counts[name]}" for name in ordered if counts.get(name)]
    return ", ".join(parts) or "no VM yet"


def current_step(campaign: dict[str, Any]) -> dict[str, Any] | None:
    """The step the campaign is at (None once it has ended)."""
    return next(
        (s for s in campaign["steps"] if s["phase"] == campaign.get("phase") and s["wave"] == campaign.get("wave")),
        None,
    )


def what_to_do(campaign: dict[str, Any]) -> str | None:
    """The operator's next move when the campaign waits for one (None while it moves on its own)."""
    cid, state = campaign["id"], campaign["state"]
    where = step_name(campaign.get("phase"), campaign.get("wave"))
    if state == "waiting_gate":
        return (
            f"the gate after {where} waits for an operator: check the VMs, then "
            f"`reprotect campaigns approve {cid} --reason '...'` (or abort it: `reprotect campaigns abort {cid}`)"
        )
    if state == "paused":
        return f"paused: `reprotect campaigns resume {cid}` goes on"
    if state == "stopped":
        return (
            f"stopped: {campaign.get('stop_reason') or 'see the steps'}; fix the cause, then "
            f"`reprotect campaigns retry {cid} --vm NAME` or `reprotect campaigns resume {cid}`, "
            f"or `reprotect campaigns abort {cid}`"
        )
    return None


def print_campaigns(out: Console, items: list[dict[str, Any]]) -> None:
    """One row per campaign: id (whole, to paste), name, state, step, VMs, created."""
    table = Table(
        Column("campaign", no_wrap=True, min_width=36),
        Column("name", overflow="fold"),
        Column("state"),
        Column("step", overflow="fold"),
        Column("VMs", justify="right"),
        Column("created"),
        box=box.SIMPLE_HEAD,
        pad_edge=False,
    )
    for item in items:
        step = step_name(item.get("phase"), item.get("wave"))
        table.add_row(item["id"], escape(item["name"]), item["state"], step, str(item["vm_count"]),
                      short_time(item["created_at"]))  # fmt: skip
    out.print(table)


def print_campaign(out: Console, campaign: dict[str, Any]) -> None:
    """The campaign page: facts, its steps with counts and gates, every VM per phase, and what to do next."""
    facts = Table.grid(padding=(0, 2))
    facts.add_column(no_wrap=True)
    facts.add_column(overflow="fold")
    position = current_step(campaign)
    of = f" (step {position['position'] + 1}/{len(campaign['steps'])})" if position else ""
    rows = [
        ("campaign", campaign["id"]),
        ("name", campaign["name"]),
        ("state", campaign["state"]),
        ("step", step_name(campaign.get("phase"), campaign.get("wave")) + of),
        ("ETA", eta_text(campaign.get("eta_at"))),
        ("created", f"{short_time(campaign['created_at'])} by {campaign.get('created_by') or '-'}"),
        ("finished", short_time(campaign.get("finished_at"))),
    ]
    if campaign.get("stop_reason"):
        rows.append(("why", campaign["stop_reason"]))
    for name, value in rows:
        facts.add_row(f"[bold]{name}[/]", escape(str(value)))
    out.print(facts)
    print_steps(out, campaign["steps"])
    print_vm_phases(out, campaign)
    hint = what_to_do(campaign)
    if hint:
        out.print(f"[yellow]next:[/] {escape(hint)}", soft_wrap=True)  # a command to paste: never broken


def _gate_text(gate: dict[str, Any]) -> str:
    if gate["kind"] == "none":
        return "-"
    text = f"{gate['kind']}: {gate.get('state') or 'not yet'}"
    if gate.get("decided_by") and gate["kind"] != "auto":
        text += f" by {gate['decided_by']}"
    if gate.get("reason"):
        text += f" ({gate['reason']})"
    return text


def print_steps(out: Console, steps: list[dict[str, Any]]) -> None:
    """The steps in order: state, VMs per state, gate (kind, outcome, who and why), estimate."""
    table = Table(
        "#", "step", "state", Column("VMs", overflow="fold"), Column("gate", overflow="fold"), "estimate",
        title="steps", title_justify="left", box=box.SIMPLE_HEAD, pad_edge=False, padding=(0, 1),
    )  # fmt: skip
    for step in steps:
        table.add_row(
            str(step["position"] + 1),
            step_name(step["phase"], step["wave"]),
            step["state"],
            escape(counts_text(step)) if step["state"] != "pending" else "-",
            escape(_gate_text(step["gate"])),
            duration(step["estimated_seconds"]),
        )
    out.print(table)


def vm_phase_text(phase: str, entry: dict[str, Any] | None) -> str:
    """A VM's outcome in one phase: ``done``, ``failed: 150097``, ``skipped``, ``refused: already_home``."""
    if not entry:
        return "-"
    state = str(entry.get("state"))
    error = entry.get("error") or {}
    word = job_state_word(phase, state)
    return f"{word}: {error['code']}" if error.get("code") and state in {"failed", "refused", "cancelled"} else word


def print_vm_phases(out: Console, campaign: dict[str, Any]) -> None:
    """Every VM with its wave and its outcome per phase (phases in the campaign's order)."""
    phases = list(dict.fromkeys(step["phase"] for step in campaign["steps"]))
    columns = [Column(phase, overflow="fold") for phase in phases]  # a narrow terminal folds a name, not cuts it
    table = Table(
        "VM", "wave", *columns, title="VMs", title_justify="left", box=box.SIMPLE_HEAD, pad_edge=False, padding=(0, 1)
    )
    for vm in campaign["vms"]:
        cells = [escape(vm_phase_text(phase, vm["phases"].get(phase))) for phase in phases]
        table.add_row(escape(vm["vm_name"]), str(vm["wave"]), *cells)
    out.print(table)


def print_plan(out: Console, plan: dict[str, Any]) -> None:
    """A dry run: the steps with their VMs, gates and estimates, what Azure would refuse now, the total."""
    table = Table(
        "#", "step", Column("VMs", overflow="fold"), "gate", "estimate",
        title=f"plan: {plan['name']} ({plan['vm_count']} VMs)", title_justify="left", box=box.SIMPLE_HEAD,
        pad_edge=False,
    )  # fmt: skip
    for number, step in enumerate(plan["steps"], start=1):
        vms = ", ".join(step["vms"]) or "-"
        if step.get("skipped"):
            vms += f" (skipped: {', '.join(step['skipped'])})"
        gate = step["gate"] + (f" + {len(step['health_checks'])} health check(s)" if step.get("health_checks") else "")
        table.add_row(str(number), step_name(step["phase"], step["wave"]), escape(vms), gate,
                      duration(step["estimated_seconds"]))  # fmt: skip
    out.print(table)
    print_refused(out, plan.get("refused") or [])
    out.print(f"estimated {duration(plan['estimated_seconds'])} if every gate passes at once", highlight=False)


def print_refused(out: Console, refused: list[dict[str, Any]]) -> None:
    """The VMs a step would refuse now, in Azure's (or our checks') words."""
    if not refused:
        return
    table = Table("VM", "in", "code", Column("why", overflow="fold"), title="refused now", title_justify="left")
    for refusal in refused:
        table.add_row(escape(refusal["vm"]), refusal.get("phase", "-"), escape(refusal["code"]),
                      escape(refusal["message"]))  # fmt: skip
    out.print(table)


def print_acted(out: Console, action: str, campaign: dict[str, Any]) -> None:
    """After ``campaigns approve|pause|resume|abort|retry``: what was asked and where the campaign is now."""
    where = step_name(campaign.get("phase"), campaign.get("wave"))
    line = f"campaign {campaign['id']}: {action}; now {campaign['state']}" + (f" at {where}" if where != "-" else "")
    out.print(line, markup=False, highlight=False, soft_wrap=True)
