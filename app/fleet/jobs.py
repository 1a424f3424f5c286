"""Our latest job per VM of the inventory: one indexed query (one per 900 VMs on SQLite), whatever the jobs
table holds.

A VM's ``vm_key`` is its vault's case-folded ARM id plus its item's case-folded name (``app.job.intake``), so
asking by the keys of the items Azure listed matches vault ids whatever their case, and reads only the jobs
of those VMs, found through the index (a bitmap/index scan on Postgres, checked with EXPLAIN at 300,000
jobs: no table scan, no other VM's rows), ranked newest first by a window that runs on SQLite and Postgres.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from uuid import UUID

from sqlalchemy import ARRAY, BindParameter, Select, String, any_, bindparam, func, select
from sqlalchemy.orm import Session

from app.job.models import Job
from app.job.states import JobState

# Keys per statement: below SQLite's historical 999-variable default, so one statement serves 900 VMs.
KEYS_PER_QUERY = 900
_COLUMNS = (
    Job.id,
    Job.request_id,
    Job.vm_key,
    Job.state,
    Job.resync_percent,
    Job.eta_at,
    Job.error_code,
    Job.finished_at,
)
_NEWEST_FIRST = (Job.created_at.desc(), Job.id.desc())


@dataclass(frozen=True)
class LatestJob:
    """The columns of a job the inventory shows."""

    id: UUID
    request_id: UUID
    vm_key: str
    state: JobState
    progress_percent: int | None
    eta: datetime | None
    error_code: str | None
    finished_at: datetime | None = None


def latest_by_vm(session: Session, vm_keys: Iterable[str]) -> dict[str, LatestJob]:
    """Our newest job for each of these VMs (by ``vm_key``, case-folded); VMs we never had a job for are absent."""
    keys = sorted(set(vm_keys))
    latest: dict[str, LatestJob] = {}
    if session.get_bind().dialect.name == "postgresql":  # one array parameter: one statement, compiled once
        batches = [session.execute(_NEWEST_OF_ARRAY, {"keys": keys})] if keys else []
    else:
        batches = [
            session.execute(_newest_of(keys[i : i + KEYS_PER_QUERY])) for i in range(0, len(keys), KEYS_PER_QUERY)
        ]
    for rows in batches:
        for row in rows:
            latest[row.vm_key] = LatestJob(
                id=row.id,
                request_id=row.request_id,
                vm_key=row.vm_key,
                state=JobState(row.state),
                progress_percent=row.resync_percent,
                eta=row.eta_at,
                error_code=row.error_code,
                finished_at=row.finished_at,
            )
    return latest


def _newest_of(keys: list[str] | BindParameter[list[str]]) -> Select[tuple[object, ...]]:
    """Rank each key's jobs, newest first, and keep the first (keys as a list, or one array parameter)."""
    newest = func.row_number().over(partition_by=Job.vm_key, order_by=_NEWEST_FIRST).label("rank")
    wanted = Job.vm_key.in_(keys) if isinstance(keys, list) else Job.vm_key == any_(keys)
    ranked = select(*_COLUMNS, newest).where(wanted).subquery()
    return select(*(ranked.c[c.key] for c in _COLUMNS)).where(ranked.c.rank == 1)


# Postgres: every key in one text[] parameter (``vm_key = ANY(:keys)``, the same index scan as IN).
_NEWEST_OF_ARRAY = _newest_of(bindparam("keys", type_=ARRAY(String)))  # type: ignore[arg-type]
