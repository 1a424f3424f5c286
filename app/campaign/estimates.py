"""How long each phase should take: the observed durations of our finished jobs of that kind once there are
enough of them, else the documented figures (``app.job.item_intake.ESTIMATED_SECONDS``; a reprotect by the
docs' formula, ``app.job.eta``).

The VMs of a step run side by side, so a step takes about as long as one VM's job of its kind.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from statistics import median

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.campaign.models import Campaign
from app.campaign.states import FINAL, StepState
from app.job.eta import AUTOSCALE_SECONDS
from app.job.item_intake import ESTIMATED_SECONDS
from app.job.kinds import JobKind
from app.job.models import Job
from app.job.states import JobState

SAMPLES = 50  # the latest finished jobs of a kind that make its observed duration
MIN_SAMPLES = 3
# Without a plan, a reprotect is at least the docs' autoscale time plus a resync of a few minutes.
REPROTECT_FALLBACK_SECONDS = AUTOSCALE_SECONDS + 600.0


def documented_seconds(kind: JobKind) -> float:
    """The documented duration of one job of ``kind``."""
    return ESTIMATED_SECONDS.get(kind, REPROTECT_FALLBACK_SECONDS)


def observed_seconds(session: Session) -> dict[JobKind, float]:
    """Per kind, the median duration of our latest finished jobs (only kinds with enough of them)."""
    observed: dict[JobKind, float] = {}
    for kind in JobKind:
        rows = session.execute(
            select(Job.created_at, Job.finished_at)
            .where(Job.kind == kind.value, Job.state == JobState.PROTECTED.value, Job.finished_at.is_not(None))
            .order_by(Job.created_at.desc())  # the kind's index (ix_jobs_kind_created) walks the newest first
            .limit(SAMPLES)
        ).all()
        if len(rows) >= MIN_SAMPLES:
            observed[kind] = median((finished - created).total_seconds() for created, finished in rows if finished)
    return observed


def phase_seconds(session: Session) -> dict[JobKind, float]:
    """Each kind's expected duration: observed where we have seen enough, else documented."""
    observed = observed_seconds(session)
    return {kind: observed.get(kind, documented_seconds(kind)) for kind in JobKind}


def eta(campaign: Campaign, jobs: dict[str, Job], per_phase: dict[JobKind, float], *, now: datetime) -> datetime | None:
    """When the campaign should end if every gate passed at once: the current step's slowest job, then each step
    still to run (a gate waiting for an operator adds nothing here); None once it has ended."""
    if campaign.state in {s.value for s in FINAL}:
        return None
    remaining = 0.0
    for step in campaign.steps[campaign.step_index :]:
        if step.state == StepState.RUNNING.value:
            etas = [
                job.eta_at
                for key in step.jobs.values()
                if (job := jobs.get(key)) is not None and job.eta_at is not None and job.finished_at is None
            ]
            latest = max(etas, default=None)
            remaining += max(0.0, (latest - now).total_seconds()) if latest else per_phase[JobKind(step.phase)]
        elif step.state == StepState.PENDING.value:
            remaining += per_phase[JobKind(step.phase)]
    return now + timedelta(seconds=remaining)
