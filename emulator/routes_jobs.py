"""ASR jobs: list (with a forgiving ``$filter``), get, and the cancel / restart / resume actions."""

from __future__ import annotations

import re
from typing import NoReturn

from emulator import errors, lookup, lro
from emulator.errors import asr_refusal
from emulator.router import Ctx, Reply, Router
from emulator.routes_asr import V, page
from emulator.state import Job, Operation, Vault
from emulator.views_job import allowed_actions, job_id, job_json

_CLAUSE = re.compile(r"(\w+)\s+eq\s+'([^']*)'", re.IGNORECASE)


def _matches(job: Job, vault: Vault, clauses: list[tuple[str, str]]) -> bool:
    for field, value in clauses:
        field = field.lower()
        if field in ("jobstatus", "state") and job.state.lower() != value.lower():
            return False
        if field == "targetobjectname" and job.snapshot.vm_name.lower() != value.lower():
            return False
        # Anything else (StartTime, EndTime, FabricId, AffectedObjectTypes, JobName...) is ignored.
    return True


def _jobs(ctx: Ctx) -> Reply:
    vault = lookup.vault(ctx)
    clauses = _CLAUSE.findall(ctx.query.get("$filter", ""))
    jobs = sorted(vault.jobs.values(), key=lambda j: j.created, reverse=True)
    clock = ctx.emulator.clock
    return page([job_json(vault, j, clock) for j in jobs if _matches(j, vault, clauses)])


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
