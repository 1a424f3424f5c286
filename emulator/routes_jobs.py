"""ASR jobs: list (paged, with a forgiving ``$filter``), get, and the cancel / restart / resume actions."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import NoReturn

from emulator import errors, lookup, lro
from emulator.clock import SimClock
from emulator.errors import asr_refusal, bad_request
from emulator.paging import paged_render
from emulator.router import Ctx, Reply, Router
from emulator.routes_asr import V
from emulator.state import Job, Operation, Vault
from emulator.views_job import job_json
from emulator.views_job_parts import allowed_actions, job_id

_CLAUSE = re.compile(r"(\w+)\s+eq\s+'([^']*)'", re.IGNORECASE)


def _moment(value: str) -> datetime:
    """A ``StartTime`` / ``EndTime`` value as PowerShell sends it (``DateTime.ToString("o")``, UTC)."""
    trimmed = re.sub(r"(\.\d{6})\d+", r"\1", value.strip().replace("Z", "+00:00"))
    try:
        moment = datetime.fromisoformat(trimmed)
    except ValueError as exc:
        raise bad_request(f"The $filter time '{value}' is not a valid date and time.") from exc
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _matches(job: Job, clauses: list[tuple[str, str]], clock: SimClock) -> bool:
    started = clock.at(job.start if job.start is not None else job.created)
    for field, value in clauses:
        field = field.lower()
        if field in ("jobstatus", "state") and job.state.lower() != value.lower():
            return False
        if field == "targetobjectname" and job.snapshot.vm_name.lower() != value.lower():
            return False
        # StartTime: jobs that started at or after it; EndTime: jobs that started before it (PowerShell's
        # Get-AzRecoveryServicesAsrJob -StartTime / -EndTime).
        if field == "starttime" and started < _moment(value):
            return False
        if field == "endtime" and started >= _moment(value):
            return False
        # Anything else (FabricId, AffectedObjectTypes, JobName...) is ignored.
    return True


def _jobs(ctx: Ctx) -> Reply:
    vault = lookup.vault(ctx)
    clauses = _CLAUSE.findall(ctx.query.get("$filter", ""))
    jobs = sorted(vault.jobs.values(), key=lambda j: j.created, reverse=True)
    clock = ctx.emulator.clock
    kept = [j for j in jobs if _matches(j, clauses, clock)]
    return paged_render(ctx, kept, lambda j: job_json(vault, j, clock))


def _job(ctx: Ctx) -> Reply:
    vault = lookup.vault(ctx)
    return Reply(200, job_json(vault, lookup.job(ctx, vault), ctx.emulator.clock))


def _refuse(job: Job, action: str) -> NoReturn:
    raise asr_refusal(
        400,
        errors.ACTION_NOT_ALLOWED,
        f"The action '{action}' is not allowed on the job '{job.name}' in its current state '{job.state}'.",
        f"The job allows only these actions now: {', '.join(allowed_actions(job)) or 'none'}.",
        "Check the job's allowedActions before acting on it.",
    )


def _done(ctx: Ctx, vault: Vault, job: Job) -> Reply:
    op = Operation(
        ctx.emulator.new_guid(),
        job.name,
        ctx.now,
        "job",
        follows_job=False,
        status="Succeeded",
        ended=ctx.now,
    )
    return lro.accepted(ctx, vault, op, job_id(vault, job.name))


def _cancel(ctx: Ctx) -> Reply:
    vault = lookup.vault(ctx)
    job = lookup.job(ctx, vault)
    if "Cancel" not in allowed_actions(job):
        _refuse(job, "Cancel")
    ctx.emulator.engine.cancel(vault, job)
    return _done(ctx, vault, job)


def _restart(ctx: Ctx) -> Reply:
    vault = lookup.vault(ctx)
    job = lookup.job(ctx, vault)
    if "Restart" not in allowed_actions(job):
        _refuse(job, "Restart")
    item = vault.items[job.item.lower()]
    if item.scenario_name != "None":
        raise asr_refusal(
            409,
            errors.OPERATION_IN_PROGRESS,
            f"Another operation is in progress on the replicated item '{item.vm_name}'.",
            "Only one operation can run on a replicated item at a time.",
            "Wait for the running job to finish, then retry.",
        )
    ctx.emulator.engine.restart(vault, job)
    return _done(ctx, vault, vault.jobs[job.name.lower()])


def _resume(ctx: Ctx) -> Reply:
    vault = lookup.vault(ctx)
    job = lookup.job(ctx, vault)
    _refuse(job, "Resume")  # reprotect jobs never suspend in the emulator


def register(router: Router) -> None:
    """Add the job routes."""
    router.add("GET", V + "/replicationJobs", "ReplicationJobs_List", _jobs)
    router.add("GET", V + "/replicationJobs/{job}", "ReplicationJobs_Get", _job)
    router.add("POST", V + "/replicationJobs/{job}/cancel", "ReplicationJobs_Cancel", _cancel)
    router.add("POST", V + "/replicationJobs/{job}/restart", "ReplicationJobs_Restart", _restart)
    router.add("POST", V + "/replicationJobs/{job}/resume", "ReplicationJobs_Resume", _resume)
