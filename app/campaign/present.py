"""Rendering campaigns: the full view (steps, gates, every VM per phase, ETA) and the list's summary."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.orm import Session

from app.campaign import engine, estimates
from app.campaign.events import campaign_href, step_counts
from app.campaign.models import Campaign, CampaignStep
from app.campaign.schemas import CampaignOut, CampaignSummaryOut, CampaignVmOut, GateOut, StepOut
from app.campaign.states import FINAL
from app.job.kinds import JobKind
from app.job.models import Job
from app.job.present import job_href


def current_step(campaign: Campaign) -> CampaignStep | None:
    """The step the campaign is at (None once it has ended)."""
    if campaign.state in {s.value for s in FINAL}:
        return None
    return campaign.steps[campaign.step_index]


def _step_out(step: CampaignStep, jobs: dict[str, Job], per_phase: dict[JobKind, float]) -> StepOut:
    return StepOut(
        position=step.position,
        phase=step.phase,
        wave=step.wave,
        state=step.state,
        estimated_seconds=per_phase[JobKind(step.phase)],
        started_at=step.started_at,
        finished_at=step.finished_at,
        counts=step_counts(step, jobs),
        gate=GateOut(
            kind=step.gate,
            state=step.gate_state,
            health_checks=step.gate_checks,
            results=step.gate_results,
            decided_by=step.gate_decided_by,
            reason=step.gate_reason,
            decided_at=step.gate_decided_at,
        ),
    )


def _vm_phases(campaign: Campaign, vm_key: str, jobs: dict[str, Job]) -> dict[str, dict[str, object]]:
    phases: dict[str, dict[str, object]] = {}
    for step in campaign.steps:
        job = jobs.get(step.jobs.get(vm_key, ""))
        if job is not None:
            error = {"code": job.error_code, "message": job.error_message} if job.error_code else None
            phases[step.phase] = {
                "job_id": str(job.id),
                "kind": job.kind,
                "state": job.state,
                "error": error,
                "href": job_href(job.id),
            }
        elif vm_key in step.refused:
            phases[step.phase] = {"state": "refused", "error": step.refused[vm_key]}
        elif vm_key in step.skipped:
            phases[step.phase] = {"state": "skipped", "reason": step.skipped[vm_key]}
    return phases


def campaign_out(session: Session, campaign: Campaign, *, now: datetime) -> CampaignOut:
    """The whole campaign as ``GET /campaigns/{id}`` shows it (its jobs in one query)."""
    jobs = engine.jobs_of(session, list(campaign.steps))
    per_phase = estimates.phase_seconds(session)
    step = current_step(campaign)
    return CampaignOut(
        id=campaign.id,
        name=campaign.name,
        state=campaign.state,
        stop_reason=campaign.stop_reason,
        blocked_reason=campaign.blocked_reason,
        phase=step.phase if step else None,
        wave=step.wave if step else None,
        created_by=campaign.created_by,
        created_at=campaign.created_at,
        updated_at=campaign.updated_at,
        finished_at=campaign.finished_at,
        eta_at=estimates.eta(campaign, jobs, per_phase, now=now),
        options=campaign.options,
        steps=[_step_out(s, jobs, per_phase) for s in campaign.steps],
        vms=[
            CampaignVmOut(
                vm_name=vm.vm_name, vault_id=vm.vault_id, wave=vm.wave, phases=_vm_phases(campaign, vm.vm_key, jobs)
            )
            for vm in campaign.vms
        ],
        history=list(campaign.history or []),
        links={"self": campaign_href(campaign.id)},
    )


def summary_out(campaign: Campaign) -> CampaignSummaryOut:
    """A campaign in a list."""
    step = current_step(campaign)
    return CampaignSummaryOut(
        id=campaign.id,
        name=campaign.name,
        state=campaign.state,
        phase=step.phase if step else None,
        wave=step.wave if step else None,
        vm_count=len(campaign.vms),
        created_by=campaign.created_by,
        created_at=campaign.created_at,
        links={"self": campaign_href(campaign.id)},
    )
