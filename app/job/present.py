"""Rendering job rows and plans as API schemas (steps, history, error, the 202 and the dry run) and ETags."""

from __future__ import annotations

import hashlib
from datetime import datetime
from typing import Any

import pydantic_core

from app.job.kinds import JobKind
from app.job.models import Job, ReprotectRequest
from app.job.plan import ReprotectPlan
from app.job.queries import count_by_state
from app.job.schemas import (
    DryRunOut,
    JobError,
    JobLink,
    JobOut,
    Plan,
    ReprotectAccepted,
    RequestOut,
    StepOut,
    TaskOut,
    TransitionOut,
)
from app.job.states import JobState, is_terminal


def job_href(job_id: object) -> str:
    """The job's URL path."""
    return f"/jobs/{job_id}"


def request_href(request_id: object) -> str:
    """The request's URL path."""
    return f"/reprotect/{request_id}"


def dry_run(plans: list[ReprotectPlan]) -> dict[str, Any]:
    """The dry run's answer: the plan per VM."""
    return DryRunOut(plans=[Plan.model_validate(plan) for plan in plans]).model_dump(mode="json")


def accepted(request: ReprotectRequest) -> dict[str, Any]:
    """The 202's body: the request and a link to each of its jobs (and the callback secret, this once)."""
    jobs = [
        JobLink(
            id=j.id,
            vm=j.vm_name,
            vault_id=j.vault_id,
            item_id=j.item_id,
            state=j.job_state,
            href=job_href(j.id),
            kind=JobKind(j.kind or JobKind.REPROTECT),
        )
        for j in request.jobs
    ]
    body = ReprotectAccepted(
        request_id=request.id, href=request_href(request.id), jobs=jobs, callback_secret=request.callback_secret
    )
    return body.model_dump(mode="json")


def job_out(job: Job) -> JobOut:
    """A job as ``GET /jobs/{id}`` shows it."""
    history = [
        TransitionOut(
            attempt=t.attempt,
            from_state=JobState(t.from_state) if t.from_state else None,
            to_state=JobState(t.to_state),
            at=t.at,
            reason=t.reason,
            actor=t.actor,
            request_id=t.request_id,
        )
        for t in job.transitions
    ]
    error = None
    if job.error_code:
        error = JobError(
            code=job.error_code,
            message=job.error_message or "",
            failed_in=JobState(job.failed_in) if job.failed_in else None,
            details=job.error_details,
        )
    return JobOut(
        id=job.id,
        request_id=job.request_id,
        href=job_href(job.id),
        kind=JobKind(job.kind or JobKind.REPROTECT),
        vm=job.vm_name,
        vault_id=job.vault_id,
        item_id=job.item_id,
        new_item_id=job.new_item_id,
        state=job.job_state,
        terminal=is_terminal(job.job_state),
        attempt=job.attempt,
        created_at=job.created_at,
        updated_at=job.updated_at,
        submitted_at=job.submitted_at,
        finished_at=job.finished_at,
        deadline_at=job.deadline_at,
        asr_job_id=job.asr_job_id,
        asr_job_state=job.asr_job_state,
        asr_tasks=[TaskOut.model_validate(t) for t in job.asr_tasks or []],
        resync_percent=job.resync_percent,
        eta=job.eta_at,
        customization=job.customization or {},
        plan=job.plan or {},
        steps=steps_of(history, attempt=job.attempt),
        error=error,
        history=history,
    )


def steps_of(history: list[TransitionOut], *, attempt: int) -> list[StepOut]:
    """The service's steps of the latest attempt, each with when it started and ended."""
    entries = [t for t in history if t.attempt == attempt]
    steps = []
    for index, entry in enumerate(entries):
        ended = entries[index + 1].at if index + 1 < len(entries) else None
        if is_terminal(entry.to_state):
            ended = entry.at
        steps.append(StepOut(state=entry.to_state, started_at=entry.at, ended_at=ended))
    return steps


def etag_of(job: Job) -> str:
    """A strong validator that changes whenever the job row changes."""
    return etag_for(job.id, job.version, job.updated_at)


def etag_for(job_id: object, version: int, updated_at: datetime) -> str:
    """The validator from the three columns that change with every write (no history needed)."""
    digest = hashlib.sha256(f"{job_id}:{version}:{updated_at.isoformat()}".encode()).hexdigest()[:24]
    return f'"{digest}"'


# The read path renders rows (not ORM objects) into plain dicts serialised once by pydantic-core, in the
# same JSON as the models above (``JobOut``/``JobItem``): a test holds the two renderings equal.
ITEM_COLUMNS = (
    "id",
    "request_id",
    "vm_name",
    "vault_id",
    "subscription_id",
    "item_id",
    "new_item_id",
    "state",
    "attempt",
    "created_at",
    "updated_at",
    "submitted_at",
    "finished_at",
    "deadline_at",
    "asr_job_id",
    "asr_job_state",
    "resync_percent",
    "eta_at",
    "error_code",
    "error_message",
    "failed_in",
    "error_details",
    "kind",
)
FULL_COLUMNS = (*ITEM_COLUMNS, "asr_tasks", "customization", "plan")
TRANSITION_COLUMNS = ("attempt", "from_state", "to_state", "at", "reason", "actor", "request_id")
_TASK_FIELDS = tuple(TaskOut.model_fields)
_TERMINAL = frozenset(state.value for state in JobState if is_terminal(state))
_ITEM_WIDTH = len(ITEM_COLUMNS)


def item_document(row: Any) -> dict[str, Any]:
    """A job row beginning with ``ITEM_COLUMNS`` (in that order) as ``GET /jobs`` lists it.

    Unpacked by position: a page builds 50 of these, and 22 attribute lookups on a SQLAlchemy row each
    cost more than the rest of the function."""
    (
        job_id,
        request_id,
        vm_name,
        vault_id,
        subscription_id,
        item_id,
        new_item_id,
        state,
        attempt,
        created_at,
        updated_at,
        submitted_at,
        finished_at,
        deadline_at,
        asr_job_id,
        asr_job_state,
        resync_percent,
        eta_at,
        error_code,
        error_message,
        failed_in,
        error_details,
        kind,
    ) = row[:_ITEM_WIDTH]
    error = None
    if error_code:
        error = {
            "code": error_code,
            "message": error_message or "",
            "failed_in": failed_in or None,
            "details": error_details,
        }
    return {
        "id": job_id,
        "request_id": request_id,
        "href": f"/jobs/{job_id}",
        "kind": kind or "reprotect",
        "vm": vm_name,
        "vault_id": vault_id,
        "subscription_id": subscription_id,
        "item_id": item_id,
        "new_item_id": new_item_id,
        "state": state,
        "terminal": state in _TERMINAL,
        "attempt": attempt,
        "created_at": created_at,
        "updated_at": updated_at,
        "submitted_at": submitted_at,
        "finished_at": finished_at,
        "deadline_at": deadline_at,
        "asr_job_id": asr_job_id,
        "asr_job_state": asr_job_state,
        "resync_percent": resync_percent,
        "eta": eta_at,
        "error": error,
    }


def full_document(row: Any, transitions: list[Any]) -> dict[str, Any]:
    """A job row (``FULL_COLUMNS``) and its transitions (``TRANSITION_COLUMNS``, in order) as ``JobOut``."""
    document = item_document(row)
    history = [
        {
            "attempt": t.attempt,
            "from_state": t.from_state or None,
            "to_state": t.to_state,
            "at": t.at,
            "reason": t.reason,
            "actor": t.actor,
            "request_id": t.request_id,
        }
        for t in transitions
    ]
    document["asr_tasks"] = [{name: task.get(name) for name in _TASK_FIELDS} for task in row.asr_tasks or []]
    document["customization"] = row.customization or {}
    document["plan"] = row.plan or {}
    document["steps"] = step_documents(history, attempt=row.attempt)
    document["history"] = history
    return document


def job_document(row: Any, transitions: list[Any]) -> dict[str, Any]:
    """``GET /jobs/{id}``'s body: the full document in ``JobOut``'s field order, without ``subscription_id``."""
    document = full_document(row, transitions)
    return {name: document[name] for name in JobOut.model_fields}


def step_documents(history: list[dict[str, Any]], *, attempt: int) -> list[dict[str, Any]]:
    """:func:`steps_of` over history documents."""
    entries = [t for t in history if t["attempt"] == attempt]
    steps = []
    for index, entry in enumerate(entries):
        ended = entries[index + 1]["at"] if index + 1 < len(entries) else None
        if is_terminal(JobState(entry["to_state"])):
            ended = entry["at"]
        steps.append({"state": entry["to_state"], "started_at": entry["at"], "ended_at": ended})
    return steps


def to_json(document: Any) -> bytes:
    """One serialisation, in pydantic's JSON (RFC 3339 ``Z`` times, uuids as text)."""
    return pydantic_core.to_json(document)


def request_out(request: ReprotectRequest) -> RequestOut:
    """A request with its counts per state and its jobs."""
    jobs = list(request.jobs)
    return RequestOut(
        id=request.id,
        created_at=request.created_at,
        vm_count=request.vm_count,
        counts=count_by_state(jobs),
        completed=all(is_terminal(j.job_state) for j in jobs),
        jobs=[job_out(j) for j in jobs],
    )
