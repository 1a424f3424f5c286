"""Bulk actions on jobs chosen by a filter: retry or cancel every matching job in the caller's scopes.

Each matched job goes through the single-job use case (``service.retry`` / ``service.cancel``), so it obeys
its own rules, emits the same webhooks and gets its own refusal; nothing is acted on when more jobs match
than the caller's ``max_count`` allows. A dry run decides each job with the same pure rules and changes nothing.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from functools import partial
from typing import Literal

from sqlalchemy import ColumnElement, func, select
from sqlalchemy.orm.exc import StaleDataError

from app.auth.principal import Principal
from app.auth.visibility import vault_visible
from app.db import transaction, utcnow
from app.errors import Conflict, InvalidRequest, ServiceError
from app.job import control, service
from app.job.bulk_schemas import MAX_COUNT_CAP, BulkActionIn, JobSelector, Outcome
from app.job.models import Job
from app.job.schemas import JobOut
from app.job.states import ACTIVE_STATES, JobState

Action = Literal["retry", "cancel"]
# The states each action applies to, when the filter names none.
DEFAULT_STATES: dict[Action, list[JobState]] = {
    "retry": [JobState.FAILED],
    "cancel": [s for s in JobState if s in ACTIVE_STATES],
}


@dataclass(frozen=True)
class Matched:
    """A matched job as it was when the filter picked it."""

    id: uuid.UUID
    vm: str
    vault_id: str
    item_id: str
    state: JobState
    error_code: str | None


@dataclass(frozen=True)
class JobResult:
    """What the action did (or would do) to one job: an outcome, or the error the single-job call gives."""

    job: Matched
    outcome: Outcome | None
    detail: str
    state_after: JobState | None = None
    error: ServiceError | None = None


@dataclass(frozen=True)
class BulkRun:
    """Every matched job's result, oldest first, and the filter as applied."""

    action: Action
    dry_run: bool
    selector: JobSelector
    max_count: int
    results: list[JobResult]


# The edge's record of each job acted on (its audit entry), called right after that job's action.
Recorder = Callable[[JobResult], None]


def retry_matching(
    deps: service.Deps, *, principal: Principal, body: BulkActionIn, dry_run: bool, record: Recorder
) -> BulkRun:
    """Retry every failed job the filter matches (or, in a dry run, say which would be retried)."""
    selector, jobs = _select(deps, principal, body, action="retry")
    if dry_run:
        results = [_would_retry(job) for job in jobs]
    else:
        act = partial(service.retry, deps, principal=principal)
        results = _each(deps, jobs, lambda job: _attempt(job, partial(act, job_id=job.id), _retried), record)
    return BulkRun(action="retry", dry_run=dry_run, selector=selector, max_count=body.max_count, results=results)


def cancel_matching(
    deps: service.Deps, *, principal: Principal, body: BulkActionIn, dry_run: bool, record: Recorder
) -> BulkRun:
    """Cancel every job the filter matches (or, in a dry run, say how each would be cancelled or refused)."""
    selector, jobs = _select(deps, principal, body, action="cancel")
    if dry_run:
        settle = deps.settings.job.switch_settle_seconds
        with transaction(deps.sessions) as session:  # pure decisions on the rows as they are now
            rows = {row.id: row for row in session.scalars(select(Job).where(Job.id.in_([j.id for j in jobs])))}
            results = [_would_cancel(job, rows[job.id], settle) for job in jobs]
        return BulkRun(action="cancel", dry_run=True, selector=selector, max_count=body.max_count, results=results)
    act = partial(service.cancel, deps, principal=principal)
    results = _each(deps, jobs, lambda job: _attempt(job, partial(act, job_id=job.id), _cancelled), record)
    return BulkRun(action="cancel", dry_run=False, selector=selector, max_count=body.max_count, results=results)


def _select(
    deps: service.Deps, principal: Principal, body: BulkActionIn, *, action: Action
) -> tuple[JobSelector, list[Matched]]:
    """The jobs matched, oldest first; ``too_many_matches`` (and nothing done) past ``max_count``."""
    selector = body.filter
    if selector.states is None:
        selector = selector.model_copy(update={"states": DEFAULT_STATES[action]})
    where = _conditions(selector, principal)
    with transaction(deps.sessions) as session:
        rows = session.execute(
            select(Job.id, Job.vm_name, Job.vault_id, Job.item_id, Job.state, Job.error_code)
            .where(*where)
            .order_by(Job.created_at, Job.id)
            .limit(body.max_count + 1)
        ).all()
        if len(rows) > body.max_count:
            matched = session.scalar(select(func.count()).select_from(Job).where(*where)) or len(rows)
            raise _too_many(matched, body.max_count)
    jobs = [Matched(id=r[0], vm=r[1], vault_id=r[2], item_id=r[3], state=JobState(r[4]), error_code=r[5]) for r in rows]
    return selector, jobs


def _conditions(selector: JobSelector, principal: Principal) -> list[ColumnElement[bool]]:
    where = [vault_visible(Job.vault_id, principal.scopes)]
    if selector.states:
        where.append(Job.state.in_([state.value for state in selector.states]))
    if selector.error_codes:
        where.append(Job.error_code.in_(selector.error_codes))
    if selector.vault_ids:
        where.append(func.lower(Job.vault_id).in_([vault.lower() for vault in selector.vault_ids]))
    if selector.request_ids:
        where.append(Job.request_id.in_(selector.request_ids))
    if selector.subscription_id:
        where.append(func.lower(Job.subscription_id) == selector.subscription_id.lower())
    if selector.vm_name_prefix:
        where.append(func.lower(Job.vm_name).startswith(selector.vm_name_prefix.lower(), autoescape=True))
    if selector.created_after is not None:
        where.append(Job.created_at >= selector.created_after)
    if selector.created_before is not None:
        where.append(Job.created_at < selector.created_before)
    return where


def _too_many(matched: int, max_count: int) -> InvalidRequest:
    what = "narrow the filter"
    if matched <= MAX_COUNT_CAP:
        what += f" or raise max_count (at most {MAX_COUNT_CAP})"
    return InvalidRequest(
        f"{matched} jobs match the filter, more than max_count ({max_count}); nothing was done: {what}.",
        code="too_many_matches",
        details={"matched": matched, "max_count": max_count},
    )


def _each(
    deps: service.Deps, jobs: list[Matched], attempt: Callable[[Matched], JobResult], record: Recorder
) -> list[JobResult]:
    """Every job's attempt, recorded as soon as it is done; a few at once (a cancel waits on Azure), in order."""

    def one(job: Matched) -> JobResult:
        result = attempt(job)
        record(result)
        return result

    if len(jobs) <= 1:
        return [one(job) for job in jobs]
    with ThreadPoolExecutor(max_workers=min(len(jobs), deps.settings.azure.validation_concurrency)) as pool:
        return list(pool.map(one, jobs))


def _attempt(job: Matched, act: Callable[[], JobOut], done: Callable[[JobOut], tuple[Outcome, str]]) -> JobResult:
    """One job through its single-job use case; its refusal (or Azure's trouble) is its result."""
    try:
        out = act()
    except ServiceError as exc:
        return JobResult(job=job, outcome=None, detail=exc.message, error=exc)
    except StaleDataError:  # a worker changed the row meanwhile: the single call's concurrent_update
        stale = Conflict("The job changed meanwhile; try again.", code="concurrent_update")
        return JobResult(job=job, outcome=None, detail=stale.message, error=stale)
    outcome, detail = done(out)
    return JobResult(job=job, outcome=outcome, detail=detail, state_after=out.state)


def _retried(out: JobOut) -> tuple[Outcome, str]:
    return Outcome.RETRIED, f"Attempt {out.attempt} runs again from {out.state.value}."


def _cancelled(out: JobOut) -> tuple[Outcome, str]:
    if out.terminal:
        return Outcome.CANCELLED, "Cancelled."
    return Outcome.CANCELLED, "Azure accepted the cancel; the job ends cancelled when the ASR job does."


def _would_retry(job: Matched) -> JobResult:
    if job.state != JobState.FAILED:  # the rule of control.retry
        refusal = Conflict(f"Only a failed job can be retried; this one is {job.state.value}.", code="job_not_failed")
        return JobResult(job=job, outcome=Outcome.WOULD_BE_REFUSED, detail=refusal.message, error=refusal)
    return JobResult(job=job, outcome=Outcome.WOULD_RETRY, detail="Would run again from where it failed.")


def _would_cancel(job: Matched, row: Job, settle_seconds: float) -> JobResult:
    try:
        decided = control.decide_cancel(row, now=utcnow(), settle_seconds=settle_seconds)
    except ServiceError as refusal:
        return JobResult(job=job, outcome=Outcome.WOULD_BE_REFUSED, detail=refusal.message, error=refusal)
    if decided is None:
        detail = "Would be cancelled at once: nothing was sent to Azure yet."
    elif isinstance(decided, control.AskAzureFirst):
        detail = "Would be cancelled once Azure shows no operation on the item (a submission may be landing)."
    else:
        detail = "Azure would be asked to cancel the ASR job; it refuses once that job no longer offers Cancel."
    return JobResult(job=job, outcome=Outcome.WOULD_CANCEL, detail=detail)
