"""``GET /jobs/summary``: counts per state grouped by vault, subscription or request, the fleet's ETA and
the most frequent failure codes, within the caller's scopes. Designed to stay fast at a million jobs:

- **finished jobs** (protected, failed, cancelled: nearly all of them) are never counted one by one: the
  ``job_terminal_counts`` table (``app.job.counts``) holds their number per vault and subscription,
  kept by a transition listener in the transaction of each move; a summary sums a few hundred rows;
- **in-flight jobs** are few (bounded by what Azure can run at once) and counted live, index-only, from
  the partial index ``ix_jobs_active_summary`` (state, vault, subscription, ETA); the ETA is their latest;
- **failure codes** are counted index-only from the partial index ``ix_jobs_failed_codes`` over failed jobs
  (a retry clears a job's code before it leaves ``failed``, so a counter could not be kept exactly);
- **one or several requests** (``request_id``): their jobs are at most 100 each, counted straight from
  ``jobs`` through the ``(request_id, created_at, id)`` index; grouping by request without naming any
  counts the 100 newest requests the same way.
"""

from __future__ import annotations

import uuid
from collections import defaultdict
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any, Literal

from sqlalchemy import ColumnElement, Connection, DateTime, func, literal, select, union_all
from sqlalchemy.orm import Session, sessionmaker

from app.auth.principal import Principal
from app.auth.visibility import vault_visible
from app.job import present
from app.job.models import Job, JobTerminalCount, ReprotectRequest
from app.job.reads import reading
from app.job.states import ACTIVE_STATES, JobState

GroupBy = Literal["none", "vault", "subscription", "request"]
TOP_FAILURES = 10
RECENT_REQUESTS = 100  # group_by=request without request_id: the newest requests
_ACTIVE = sorted(state.value for state in ACTIVE_STATES)


@dataclass(frozen=True)
class SummaryFilter:
    """What a summary counts: some requests (none: every one), a vault, a subscription."""

    request_ids: tuple[uuid.UUID, ...] = ()
    vault_id: str | None = None
    subscription_id: str | None = None


@dataclass
class _Tally:
    counts: dict[str | None, dict[str, int]] = field(default_factory=lambda: defaultdict(lambda: defaultdict(int)))
    eta: datetime | None = None
    failures: dict[str, int] = field(default_factory=lambda: defaultdict(int))

    def add(self, key: Any, state: str, count: int) -> None:
        self.counts[key][state] += int(count)

    def later(self, eta: datetime | None) -> None:
        if eta is not None and (self.eta is None or eta > self.eta):
            self.eta = eta


def summarise(
    sessions: sessionmaker[Session], *, principal: Principal, where: SummaryFilter, group_by: GroupBy
) -> bytes:
    """The summary of the jobs the caller may see that ``where`` selects, as ``JobSummary`` JSON."""
    tally = _Tally()
    with reading(sessions) as session:
        if group_by == "request" and not where.request_ids:
            # The newest requests the caller can see a job of (not the newest of everyone's: a scoped caller
            # would get empty groups once others had submitted more recently).
            visible = vault_visible(Job.vault_id, principal.scopes)
            seen = select(Job.id).where(Job.request_id == ReprotectRequest.id, visible)
            newest = (
                select(ReprotectRequest.id)
                .where(seen.exists())
                .order_by(ReprotectRequest.created_at.desc())
                .limit(RECENT_REQUESTS)
            )
            where = replace(where, request_ids=tuple(session.scalars(newest)))
            if not where.request_ids:
                return _render(tally, group_by)
        if where.request_ids:
            _from_jobs(session, tally, principal, where, group_by)
        else:
            _from_counts(session, tally, principal, where, group_by)
    return _render(tally, group_by)


def _job_filters(principal: Principal, where: SummaryFilter) -> list[ColumnElement[bool]]:
    filters = [vault_visible(Job.vault_id, principal.scopes)]
    if where.request_ids:
        filters.append(Job.request_id.in_(where.request_ids))
    if where.vault_id:
        filters.append(func.lower(Job.vault_id) == where.vault_id.lower())
    if where.subscription_id:
        filters.append(func.lower(Job.subscription_id) == where.subscription_id.lower())
    return filters


def _job_key(group_by: GroupBy) -> Any:
    columns: dict[str, Any] = {
        "vault": func.lower(Job.vault_id),
        "subscription": func.lower(Job.subscription_id),
        "request": Job.request_id,
    }
    return columns.get(group_by)


def _from_jobs(
    session: Connection, tally: _Tally, principal: Principal, where: SummaryFilter, group_by: GroupBy
) -> None:
    key = _job_key(group_by)
    grouping = [column for column in (key, Job.state, Job.error_code) if column is not None]
    query = select(*grouping, func.count(), func.max(Job.eta_at)).where(*_job_filters(principal, where))
    for row in session.execute(query.group_by(*grouping)):
        group = str(row[0]) if key is not None else None
        state, code, count, eta = row[-4], row[-3], row[-2], row[-1]
        tally.add(group, state, count)
        if state in _ACTIVE:
            tally.later(eta)
        if state == JobState.FAILED.value and code:
            tally.failures[code] += count


def _from_counts(
    session: Connection, tally: _Tally, principal: Principal, where: SummaryFilter, group_by: GroupBy
) -> None:
    # Finished jobs: the maintained counts.
    counted = {"vault": JobTerminalCount.vault_key, "subscription": func.lower(JobTerminalCount.subscription_id)}
    key = counted.get(group_by)
    filters = [vault_visible(JobTerminalCount.vault_key, principal.scopes)]
    if where.vault_id:
        filters.append(JobTerminalCount.vault_key == where.vault_id.lower())
    if where.subscription_id:
        filters.append(func.lower(JobTerminalCount.subscription_id) == where.subscription_id.lower())
    grouping = [column for column in (key, JobTerminalCount.state) if column is not None]
    finished = (
        select(*grouping, func.sum(JobTerminalCount.count), literal(None, DateTime(timezone=True)))
        .where(*filters)
        .group_by(*grouping)
    )
    # In-flight jobs: counted live from the partial index.
    live_key = _job_key(group_by)
    live_grouping = [column for column in (live_key, Job.state) if column is not None]
    active = (
        select(*live_grouping, func.count(), func.max(Job.eta_at))
        .where(Job.state.in_(_ACTIVE), *_job_filters(principal, where))
        .group_by(*live_grouping)
    )
    # One statement, so one snapshot: a job finishing meanwhile is counted once, as in flight or as finished
    # (its count moves in the transaction that ends it), never twice or not at all. (The top failure codes
    # below are a second read: a failure landing between the two can show in one and not yet in the other.)
    for row in session.execute(union_all(finished, active)):
        tally.add(row[0] if key is not None else None, row[-3], row[-2])
        tally.later(row[-1])
    # Failure codes: index-only over failed jobs.
    failed = (
        select(Job.error_code, func.count())
        .where(Job.state == JobState.FAILED.value, Job.error_code.is_not(None), *_job_filters(principal, where))
        .group_by(Job.error_code)
    )
    for code, count in session.execute(failed):
        tally.failures[str(code)] += count


def _render(tally: _Tally, group_by: GroupBy) -> bytes:
    groups: list[dict[str, Any]] = []
    for key in sorted(tally.counts, key=lambda k: "" if k is None else str(k)):
        counts = {state.value: 0 for state in JobState}
        for state, count in tally.counts[key].items():
            if count:
                counts[state] = count
        if any(counts.values()):  # a vault whose last finished job was retried keeps a zero row
            groups.append({"key": key, "total": sum(counts.values()), "counts": counts})
    if group_by == "none" and not groups:
        groups = [{"key": None, "total": 0, "counts": {state.value: 0 for state in JobState}}]
    top = sorted(tally.failures.items(), key=lambda item: (-item[1], item[0]))[:TOP_FAILURES]
    in_flight = sum(int(group["counts"][state]) for group in groups for state in _ACTIVE)
    document = {
        "group_by": group_by,
        "groups": groups,
        "total": sum(group["total"] for group in groups),
        "in_flight": in_flight,
        "eta": tally.eta,
        "top_failures": [{"code": code, "count": count} for code, count in top],
    }
    # Built in JobSummary's shape and serialised once; validating it (100 groups of 9 counts) took a quarter
    # of a grouped summary's Python time. A test holds the document to the model.
    return present.to_json(document)
