"""Our latest job per VM of the watched vaults: one query, whatever the fleet's size."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from uuid import UUID

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from app.job.models import Job
from app.job.states import JobState


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


def latest_by_vm(session: Session, vault_ids: list[str]) -> dict[str, LatestJob]:
    """Our newest job for each VM (by ``vm_key``) of these vaults."""
    if not vault_ids:
        return {}
    newest = func.row_number().over(partition_by=Job.vm_key, order_by=(Job.created_at.desc(), Job.id.desc()))
    ranked = (
        select(
            Job.id,
            Job.request_id,
            Job.vm_key,
            Job.state,
            Job.resync_percent,
            Job.eta_at,
            Job.error_code,
            newest.label("rank"),
        )
        .where(Job.vault_id.in_(sorted(set(vault_ids))))
        .subquery()
    )
    rows = session.execute(select(ranked).where(ranked.c.rank == 1)).all()
    return {
        row.vm_key: LatestJob(
            id=row.id,
            request_id=row.request_id,
            vm_key=row.vm_key,
            state=JobState(row.state),
            progress_percent=row.resync_percent,
            eta=row.eta_at,
            error_code=row.error_code,
        )
        for row in rows
    }
