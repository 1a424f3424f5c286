"""Moving campaigns on: the sweeper's use case (:func:`sweep`) and one campaign's moves (:func:`advance`).

A move is decided in a transaction, and whatever needs Azure or an application endpoint (starting a step:
checking its VMs; a gate's health checks) runs outside any transaction and is recorded only if the campaign
has not moved meanwhile (its version): any number of sweepers may run, and a step starts at most once.
Operations already sent to Azure are never interrupted: a pause or an abort waits for the step's jobs to end.
"""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Protocol

from sqlalchemy import or_, select, update
from sqlalchemy.orm import Session
from sqlalchemy.orm.exc import StaleDataError

from app.campaign import events, gates, history, launch
from app.campaign.models import Campaign, CampaignStep
from app.campaign.states import MOVING, CampaignState, GateKind, GateState, StepState
from app.db import transaction, utcnow
from app.errors import ServiceError
from app.job import intake, item_intake
from app.job.kinds import JobKind
from app.job.models import Job
from app.job.service import Deps
from app.job.states import ACTIVE_STATES, JobState
from app.outbound.transport import WebhookSender
from app.webhook.events import EventType

log = logging.getLogger(__name__)
MAX_MOVES = 20  # per advance: enough to pass every gate-less step that has nothing to do
BLOCKED_RETRY_SECONDS = 30.0  # a step Azure would not let start is tried again after this
# How long one sweeper holds a campaign while it checks a step's VMs or runs health checks: longer than that
# usually takes, short enough that a worker killed meanwhile delays the campaign by a minute at most.
LEASE_SECONDS = 60.0


class CampaignDeps(Deps, Protocol):
    """The job use cases' dependencies, and the outbound sender for health checks."""

    @property
    def sender(self) -> WebhookSender: ...


@dataclass(frozen=True)
class Start:
    """Start the step at ``position``: these VMs, with the campaign's options."""

    version: int
    position: int
    phase: JobKind
    vms: list[launch.VmRef]
    options: dict[str, Any]
    requested_by: str


@dataclass(frozen=True)
class Check:
    """Run the health checks of the gate after the step at ``position``."""

    version: int
    position: int
    checks: list[dict[str, Any]]


def sweep(deps: CampaignDeps, *, now: datetime) -> list[uuid.UUID]:
    """Advance every campaign that is due; returns those looked at."""
    with transaction(deps.sessions) as session:
        due = list(
            session.scalars(
                select(Campaign.id).where(
                    Campaign.state.in_([s.value for s in MOVING]),
                    or_(Campaign.next_due_at.is_(None), Campaign.next_due_at <= now),
                )
            )
        )
    for campaign_id in due:
        advance_safely(deps, campaign_id=campaign_id)
    return due


def advance_safely(deps: CampaignDeps, *, campaign_id: uuid.UUID) -> str | None:
    """:func:`advance`, with whatever stops it shown on the campaign (and tried again later) instead of raised:
    one campaign's fault never holds the others up."""
    try:
        return advance(deps, campaign_id=campaign_id)
    except ServiceError as exc:  # Azure throttled or refused a step's checks
        log.warning("campaign %s waits: %s", campaign_id, exc)
        note_blocked(deps, campaign_id, f"{exc.code}: {exc}")
    except Exception as exc:
        log.exception("campaign %s could not move", campaign_id)
        note_blocked(deps, campaign_id, f"internal error: {type(exc).__name__}; see the worker's log")
    return None


def note_blocked(deps: CampaignDeps, campaign_id: uuid.UUID, reason: str) -> None:
    """Show why the campaign could not move, and try again after a pause rather than at every sweep."""
    try:
        with transaction(deps.sessions) as session:
            campaign = session.get(Campaign, campaign_id)
            if campaign is not None:
                campaign.blocked_reason = reason
                campaign.next_due_at = utcnow() + timedelta(seconds=BLOCKED_RETRY_SECONDS)
    except StaleDataError:
        pass  # it moved meanwhile: whatever moved it says more


def advance(deps: CampaignDeps, *, campaign_id: uuid.UUID) -> str | None:
    """Move one campaign as far as it can go now; returns its state (None if it does not exist)."""
    state: str | None = None
    for _ in range(MAX_MOVES):
        try:
            with transaction(deps.sessions) as session:
                campaign = session.get(Campaign, campaign_id)
                if campaign is None:
                    return None
                action = _decide(deps, session, campaign)
                state = campaign.state
            if action is None:
                return state
            if isinstance(action, Start):
                _start(deps, action, campaign_id)
            elif isinstance(action, Check):
                _check(deps, action, campaign_id)
        except StaleDataError:  # another sweeper or an operator moved it first: theirs stands; look again
            continue
    return state


def _decide(deps: CampaignDeps, session: Session, campaign: Campaign) -> Start | Check | bool | None:
    """The next move: a start or a check to run outside the transaction, True when this transaction moved the
    campaign (look again), None when there is nothing to do now."""
    if campaign.state not in {s.value for s in MOVING}:
        return None
    now = utcnow()
    step = campaign.steps[campaign.step_index]
    aborting = campaign.state == CampaignState.ABORTING.value
    if step.state == StepState.PENDING.value:
        if aborting and step.phase != JobKind.DRILL_CLEANUP.value:
            return _abort_next(session, campaign, now)  # nothing new starts after an abort but the cleanup
        _take_lease(session, campaign, now)
        return _start_order(campaign, step)
    jobs = jobs_of(session, [step])
    if step.state == StepState.RUNNING.value:
        if any(job.job_state in ACTIVE_STATES for job in jobs.values()):
            _look_again(session, campaign, now + timedelta(seconds=deps.settings.broker.sweep_interval_seconds))
            return None
        return _finish_step(session, campaign, step, jobs, now)
    if aborting:
        return _abort_next(session, campaign, now)
    if step.state == StepState.FAILED.value:
        return None  # stopped; an operator retries the VM and resumes
    return _pass_gate(session, campaign, step, jobs, now)


def _take_lease(session: Session, campaign: Campaign, now: datetime) -> None:
    """Hold the campaign while its step's checks (or its gate's health checks) run outside the transaction: other
    sweepers skip it until the lease ends, and what we record is checked against the version this write makes."""
    campaign.next_due_at = now + timedelta(seconds=LEASE_SECONDS)
    campaign.updated_at = now
    session.flush()  # bumps the version the order carries


def _look_again(session: Session, campaign: Campaign, at: datetime) -> None:
    """When to look again while jobs run: a plain update, so it does not bump the version an operator's retry holds."""
    session.execute(update(Campaign).where(Campaign.id == campaign.id).values(next_due_at=at))


def _start_order(campaign: Campaign, step: CampaignStep) -> Start:
    vms = [launch.VmRef.of(vm) for vm in campaign.vms if step.wave is None or vm.wave == step.wave]
    return Start(
        version=campaign.version,
        position=step.position,
        phase=JobKind(step.phase),
        vms=vms,
        options=dict(campaign.options),
        requested_by=campaign.created_by or "campaign",
    )


def jobs_of(session: Session, steps: list[CampaignStep]) -> dict[str, Job]:
    """The jobs the steps started, by id (as text): one query."""
    ids = [uuid.UUID(job_id) for step in steps for job_id in step.jobs.values()]
    if not ids:
        return {}
    return {str(job.id): job for job in session.scalars(select(Job).where(Job.id.in_(ids)))}


def jobs_of_keys(session: Session, step: CampaignStep) -> dict[str, Job]:
    """The step's latest job per VM key."""
    jobs = jobs_of(session, [step])
    return {key: jobs[job_id] for key, job_id in step.jobs.items() if job_id in jobs}


def _finish_step(session: Session, campaign: Campaign, step: CampaignStep, jobs: dict[str, Job], now: datetime) -> bool:
    failed = [job for job in jobs.values() if job.job_state is not JobState.PROTECTED]
    step.finished_at = now
    campaign.updated_at = now
    if failed or step.refused:
        step.state = StepState.FAILED.value
        if campaign.state == CampaignState.ABORTING.value:
            return True
        names = sorted(job.vm_name for job in failed)
        campaign.stop_reason = _failure_reason(step, names)
        history.move(campaign, CampaignState.STOPPED, actor="service", reason=campaign.stop_reason, now=now)
        events.emit(session, campaign, EventType.CAMPAIGN_STOPPED, step=step, jobs=jobs, now=now)
        return True
    step.state = StepState.DONE.value
    events.emit(session, campaign, EventType.CAMPAIGN_STEP_COMPLETED, step=step, jobs=jobs, now=now)
    return True


def _where(step: CampaignStep) -> str:
    return step.phase + (f" wave {step.wave}" if step.wave else "")


def _failure_reason(step: CampaignStep, failed_vms: list[str]) -> str:
    where = _where(step)
    parts = []
    if failed_vms:
        parts.append(f"{len(failed_vms)} VM(s) failed or were cancelled ({', '.join(failed_vms[:10])})")
    if step.refused:
        codes = sorted({refusal["code"] for refusal in step.refused.values()})
        parts.append(f"{len(step.refused)} VM(s) were refused ({', '.join(codes)})")
    return f"{where}: " + "; ".join(parts) + ". Retry them (POST /campaigns/{id}/retry), then resume."


def _pass_gate(
    session: Session, campaign: Campaign, step: CampaignStep, jobs: dict[str, Job], now: datetime
) -> Check | bool | None:
    gate = GateKind(step.gate)
    if step.gate_state == GateState.PASSED.value:
        return _next_step(session, campaign, now)
    if step.gate_checks and not step.gate_results:
        _take_lease(session, campaign, now)
        return Check(version=campaign.version, position=step.position, checks=list(step.gate_checks))
    if gate is GateKind.MANUAL:
        history.move(
            campaign, CampaignState.WAITING_GATE, actor="service", reason=f"{_where(step)}: waits for approval", now=now
        )
        campaign.updated_at = now
        if step.gate_state != GateState.PENDING.value:  # announced once, not again after a pause and resume
            step.gate_state = GateState.PENDING.value
            events.emit(session, campaign, EventType.CAMPAIGN_GATE, step=step, jobs=jobs, now=now)
        return None
    step.gate_state = GateState.PASSED.value
    step.gate_decided_by = "service"
    step.gate_decided_at = now
    if gate is not GateKind.NONE:
        events.emit(session, campaign, EventType.CAMPAIGN_GATE, step=step, jobs=jobs, now=now)
    return _next_step(session, campaign, now)


def _next_step(session: Session, campaign: Campaign, now: datetime) -> bool:
    campaign.updated_at = now
    campaign.next_due_at = None
    if campaign.step_index + 1 >= len(campaign.steps):
        _finish(campaign, CampaignState.COMPLETED, now)
        events.emit(session, campaign, EventType.CAMPAIGN_COMPLETED, step=None, jobs={}, now=now)
        return True
    campaign.step_index += 1
    return True


def _finish(campaign: Campaign, state: CampaignState, now: datetime) -> None:
    history.move(campaign, state, actor="service", reason=campaign.stop_reason or "every step done", now=now)
    campaign.finished_at = now
    campaign.updated_at = now
    for vm in campaign.vms:
        vm.active = False  # the VMs may join another campaign


def _abort_next(session: Session, campaign: Campaign, now: datetime) -> bool:
    """After an abort, once nothing runs: clean up a drill that was started, then end the campaign."""
    step = campaign.steps[campaign.step_index]
    cleanup = next((s for s in campaign.steps if s.phase == JobKind.DRILL_CLEANUP.value), None)
    drill = next((s for s in campaign.steps if s.phase == JobKind.DRILL.value), None)
    if (
        cleanup is not None
        and drill is not None
        and drill.jobs
        and cleanup.state == StepState.PENDING.value
        and step.position <= cleanup.position
    ):
        campaign.step_index = cleanup.position  # the sweep starts the cleanup next
        campaign.updated_at = now
        return True
    if cleanup is not None and cleanup.state == StepState.FAILED.value:
        left = sorted(vm.vm_name for vm in campaign.vms if _cleanup_failed(session, cleanup, vm.vm_key))
        campaign.stop_reason = (
            f"{campaign.stop_reason or 'aborted'}; the drill's cleanup failed for {', '.join(left)}: clean their "
            "test failovers up (POST /drills/{request_id}/cleanup, or the portal)"
        )
    _finish(campaign, CampaignState.ABORTED, now)
    events.emit(session, campaign, EventType.CAMPAIGN_ABORTED, step=None, jobs={}, now=now)
    return True


def _cleanup_failed(session: Session, cleanup: CampaignStep, vm_key: str) -> bool:
    if vm_key in cleanup.refused:
        return True
    job = jobs_of_keys(session, cleanup).get(vm_key)
    return job is not None and job.job_state is not JobState.PROTECTED


def _start(deps: CampaignDeps, order: Start, campaign_id: uuid.UUID) -> None:
    """Check the step's VMs against Azure, then record their jobs unless the campaign moved meanwhile."""
    prepared = launch.prepare(deps, order.phase, order.vms, order.options)
    keys = [vm.vm_key for vm in order.vms]
    job_ids: list[uuid.UUID] = []
    with transaction(deps.sessions) as session:
        campaign = session.get(Campaign, campaign_id)
        if campaign is None or campaign.version != order.version:
            return  # another sweeper (or an operator) moved it: look again
        step = campaign.steps[order.position]
        busy = _busy_elsewhere(session, keys)
        for key, job in busy.items():
            prepared.refused[key] = {
                "code": "vm_has_active_job",
                "message": f"Job {job.id} ({job.kind}, {job.state}) already runs on this VM; follow it or cancel it.",
            }
        launch.drop(prepared, set(busy))
        now = utcnow()
        try:
            started = launch.record(deps, session, prepared, requested_by=order.requested_by, now=now)
        except (intake.RaceLost, item_intake.RaceLost):  # another sweeper's jobs (or a VM's new job) won
            session.rollback()
            return
        step.jobs = {key: str(job_id) for key, job_id in started.items()}
        step.skipped = prepared.skipped
        step.refused = prepared.refused
        step.state = StepState.RUNNING.value
        step.started_at = now
        campaign.updated_at = now
        campaign.next_due_at = None
        campaign.blocked_reason = None
        job_ids = list(started.values())
    if job_ids:
        deps.doorbell.ring(job_ids)  # after the commit


def _busy_elsewhere(session: Session, keys: list[str]) -> dict[str, Job]:
    active = session.scalars(select(Job).where(Job.vm_key.in_(keys), Job.state.in_([s.value for s in ACTIVE_STATES])))
    return {job.vm_key: job for job in active}


def _check(deps: CampaignDeps, order: Check, campaign_id: uuid.UUID) -> None:
    """Run the gate's health checks, then record the outcome unless the campaign moved meanwhile."""
    now = utcnow()
    results = gates.run_checks(deps.sender, order.checks, now=now)
    reason = gates.failure_reason(results)
    with transaction(deps.sessions) as session:
        campaign = session.get(Campaign, campaign_id)
        if campaign is None or campaign.version != order.version:
            return
        step = campaign.steps[order.position]
        step.gate_results = results
        campaign.updated_at = now
        if reason is None:
            return  # the next decision passes the gate (or waits for an operator)
        jobs = jobs_of(session, [step])
        step.gate_state = GateState.FAILED.value
        step.gate_reason = reason
        step.gate_decided_by = "service"
        step.gate_decided_at = now
        campaign.stop_reason = f"gate after {_where(step)}: {reason}"
        history.move(campaign, CampaignState.STOPPED, actor="service", reason=campaign.stop_reason, now=now)
        events.emit(session, campaign, EventType.CAMPAIGN_GATE, step=step, jobs=jobs, now=now)
        events.emit(session, campaign, EventType.CAMPAIGN_STOPPED, step=step, jobs=jobs, now=now)
