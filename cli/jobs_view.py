"""Jobs for people: the ``jobs list`` table, the ``jobs show`` page and the line after a cancel or retry."""

from __future__ import annotations

from typing import Any

from rich import box
from rich.console import Console
from rich.markup import escape
from rich.table import Column, Table

from cli.output import eta_text, short_time
from cli.watching import TERMINAL, describe


def print_jobs(out: Console, jobs: list[dict[str, Any]]) -> None:
    """One row per job: id (whole, to paste into `jobs show`), VM, status, attempt, ETA, error code."""
    table = Table(
        Column("job", no_wrap=True, min_width=36),  # whole: it is pasted into `jobs show|cancel|retry`
        Column("VM", overflow="fold"),
        Column("status", overflow="fold"),
        Column("try", justify="right"),
        Column("ETA", overflow="fold"),
        Column("error", overflow="fold"),
        box=box.SIMPLE_HEAD,
        pad_edge=False,
    )
    for job in jobs:
        error = job.get("error") or {}
        table.add_row(
            job["id"],
            escape(job["vm"]),
            escape(describe(job)),
            str(job["attempt"]),
            eta_text(job.get("eta")) if job["state"] not in TERMINAL else "-",
            escape(error.get("code") or "-"),
        )
    out.print(table)


def print_job(out: Console, job: dict[str, Any]) -> None:
    """The job page: facts, the error with Azure's advice, then steps, ASR tasks and history."""
    facts = Table.grid(padding=(0, 2))
    facts.add_column(no_wrap=True)
    facts.add_column(overflow="fold")
    rows = [
        ("job", job["id"]),
        ("VM", job["vm"]),
        ("status", describe(job)),
        ("attempt", str(job["attempt"])),
        ("request", job["request_id"]),
        ("vault", job["vault_id"]),
        ("replicated item", job["item_id"]),
        ("new item", job.get("new_item_id") or "-"),
        ("ASR job", f"{job.get('asr_job_id') or '-'} ({job.get('asr_job_state') or '-'})"),
        ("resync", f"{job['resync_percent']}%" if job.get("resync_percent") is not None else "-"),
        ("ETA", eta_text(job.get("eta")) if job["state"] not in TERMINAL else "-"),
        ("created", short_time(job.get("created_at"))),
        ("submitted", short_time(job.get("submitted_at"))),
        ("finished", short_time(job.get("finished_at"))),
        ("deadline", short_time(job.get("deadline_at"))),
    ]
    for name, value in rows:
        facts.add_row(f"[bold]{name}[/]", escape(str(value)))
    out.print(facts)
    _print_error(out, job.get("error"))
    if job.get("steps"):
        steps = Table("step", "started", "ended", title="steps (latest attempt)", title_justify="left")
        for step in job["steps"]:
            steps.add_row(step["state"], short_time(step["started_at"]), short_time(step.get("ended_at")))
        out.print(steps)
    if job.get("asr_tasks"):
        tasks = Table("ASR task", "state", "started", "ended", title="ASR job tasks", title_justify="left")
        for task in job["asr_tasks"]:
            tasks.add_row(escape(task["name"]), task["state"], short_time(task.get("start_time")),
                          short_time(task.get("end_time")))  # fmt: skip
        out.print(tasks)
    if job.get("history"):
        history = Table("at", "attempt", "from → to", "by", "why", title="history", title_justify="left")
        for entry in job["history"]:
            move = f"{entry.get('from_state') or '-'} → {entry['to_state']}"
            history.add_row(short_time(entry["at"]), str(entry["attempt"]), move, escape(entry["actor"]),
                            escape(entry["reason"]))  # fmt: skip
        out.print(history)


def _print_error(out: Console, error: dict[str, Any] | None) -> None:
    if not error:
        return
    where = f" (in {error['failed_in']})" if error.get("failed_in") else ""
    out.print(f"[bold red]error {escape(error['code'])}[/]{where}: {escape(error['message'])}")
    details = error.get("details") or {}
    for key, label in (("possible_causes", "possible causes"), ("recommended_action", "recommended action")):
        if details.get(key):
            out.print(f"  [bold]{label}:[/] {escape(str(details[key]))}")


def print_acted(out: Console, action: str, job: dict[str, Any]) -> None:
    """After ``jobs cancel|retry ID``: what was asked and where the job is now."""
    asked = {"cancel": "cancel asked", "retry": "retried as attempt " + str(job["attempt"])}.get(action, action)
    out.print(f"job {job['id']} ({escape(job['vm'])}): {asked}; now {escape(describe(job))}")
