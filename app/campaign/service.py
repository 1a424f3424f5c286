"""The campaign use cases, one function each: create (or plan), read, list, approve a gate, pause, resume,
abort, and retry one VM. The sweeper's use case is ``app.campaign.engine.sweep``.

Each control action is a move of the campaign's row (its version guards against a sweeper moving it at the
same moment: the loser gets a 409 and may try again); none interrupts an operation Azure runs.
"""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session
from sqlalchemy.orm.exc import StaleDataError

from app.auth.principal import Principal
from app.campaign import engine, events, intake, launch, present
from app.campaign.models import Campaign, CampaignStep
from app.campaign.schemas import CampaignIn, CampaignOut, CampaignPage
from app.campaign.states import FINAL, CampaignState, GateState, StepState
from app.db import transaction, utcnow
from app.errors import Conflict, NotFound, PrerequisitesFailed, ServiceError, VmProblem
from app.job import control
from app.job.kinds import JobKind
from app.job.states import JobState
from app.pagination import visible_page
from app.webhook.events import EventType

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Created:
    """The answer to ``POST /campaigns``: the campaign (201) or, in a dry run, its plan (200)."""

    status: int
    headers: dict[str, str]
    body: Any


def create(deps: engine.CampaignDeps, *, principal: Principal, body: CampaignIn, dry_run: bool) -> Created:
    """Resolve the VMs and plan the steps; record the campaign (the sweeper starts it) unless a dry run."""
    members = intake.resolve(deps, principal=principal, body=body)
    if dry_run:
        return Created(status=200, headers={}, body=intake.dry_run(deps, body, members).model_dump(mode="json"))
    try:
        with transaction(deps.sessions) as session:
            campaign = intake.record(session, body, members, created_by=principal.id, now=utcnow())
            campaign_id = campaign.id
    except intake.RaceLost:
        with transaction(deps.sessions) as session:
            intake.refuse_in_campaign(session, members)  # names the campaign that won
        raise
    try:
        engine.advance(deps, campaign_id=campaign_id)  # start the first step now rather than at the next sweep
    except ServiceError as exc:  # Azure throttled the checks, say: the campaign exists, the sweep starts it
        log.warning("campaign %s starts at the next sweep: %s", campaign_id, exc)
    out = get(deps, principal=principal, campaign_id=campaign_id)
    return Created(
        status=201, headers={"Location": events.campaign_href(campaign_id)}, body=out.model_dump(mode="json")
    )


def _visible(session: Session, campaign_id: uuid.UUID, principal: Principal) -> Campaign:
    campaign = session.get(Campaign, campaign_id)
    if campaign is None or not all(principal.scopes.covers(vault) for vault in campaign.vault_ids):
        raise NotFound(f"No campaign {campaign_id}.", code="campaign_not_found")
    return campaign


def get(deps: engine.CampaignDeps, *, principal: Principal, campaign_id: uuid.UUID) -> CampaignOut:
    """A campaign the caller may see (every vault of its VMs in the caller's scopes)."""
    with transaction(deps.sessions) as session:
        return present.campaign_out(session, _visible(session, campaign_id, principal), now=utcnow())


def list_campaigns(
    deps: engine.CampaignDeps, *, principal: Principal, state: str | None, limit: int, cursor: str | None
) -> CampaignPage:
    """The campaigns the caller may see, newest first."""
    query = select(Campaign)
    if state:
        query = query.where(Campaign.state == state)
    with transaction(deps.sessions) as session:
        rows, next_cursor = visible_page(
            session,
            query,
            created=Campaign.created_at,
            key=Campaign.id,
            limit=limit,
            cursor=cursor,
            visible=lambda c: all(principal.scopes.covers(vault) for vault in c.vault_ids),
        )
        return CampaignPage(items=[present.summary_out(c) for c in rows], next_cursor=next_cursor)


def _move(
    deps: engine.CampaignDeps, principal: Principal, campaign_id: uuid.UUID, change: Any, *, advance: bool = True
) -> CampaignOut:
    """Apply ``change(session, campaign, now)`` in one transaction (409 if a sweeper moved it meanwhile), then let
    the campaign move on at once."""
    try:
        with transaction(deps.sessions) as session:
            campaign = _visible(session, campaign_id, principal)
            now = utcnow()
            change(session, campaign, now)
            campaign.updated_at = now
            campaign.next_due_at = None
    except StaleDataError:
        raise Conflict(
            "The campaign moved at the same moment; look at it and try again.", code="campaign_moved"
        ) from None
    if advance:
        engine.advance(deps, campaign_id=campaign_id)
    return get(deps, principal=principal, campaign_id=campaign_id)


def _require(campaign: Campaign, *states: CampaignState, action: str) -> None:
    if campaign.state not in {s.value for s in states}:
        allowed = ", ".join(s.value for s in states)
        raise Conflict(
            f"Campaign {campaign.id} is {campaign.state}; it can be {action} only when {allowed}.",
            code="campaign_state_conflict",
            details={"state": campaign.state},
        )


def approve(deps: engine.CampaignDeps, *, principal: Principal, campaign_id: uuid.UUID, reason: str) -> CampaignOut:
    """Let a campaign waiting at a manual gate go on; who and why are kept on the gate."""

    def change(session: Session, campaign: Campaign, now: Any) -> None:
        _require(campaign, CampaignState.WAITING_GATE, action="approved")
        step = campaign.steps[campaign.step_index]
        step.gate_state = GateState.PASSED.value
        step.gate_decided_by = principal.id
        step.gate_reason = reason
        step.gate_decided_at = now
        campaign.state = CampaignState.RUNNING.value
        events.emit(
            session, campaign, EventType.CAMPAIGN_GATE, step=step, jobs=engine.jobs_of(session, [step]), now=now
        )

    return _move(deps, principal, campaign_id, change)


def pause(deps: engine.CampaignDeps, *, principal: Principal, campaign_id: uuid.UUID) -> CampaignOut:
    """No new step starts; the operations already sent to Azure finish."""

    def change(session: Session, campaign: Campaign, now: Any) -> None:
        _require(campaign, CampaignState.RUNNING, CampaignState.WAITING_GATE, action="paused")
        campaign.state = CampaignState.PAUSED.value

    return _move(deps, principal, campaign_id, change, advance=False)


def resume(deps: engine.CampaignDeps, *, principal: Principal, campaign_id: uuid.UUID) -> CampaignOut:
    """Go on from a pause, or from a stop once its cause is dealt with (a failed step is judged again, a
    failed health check run again)."""

    def change(session: Session, campaign: Campaign, now: Any) -> None:
        _require(campaign, CampaignState.PAUSED, CampaignState.STOPPED, action="resumed")
        step = campaign.steps[campaign.step_index]
        _reopen(step)
        campaign.state = CampaignState.RUNNING.value
        campaign.stop_reason = None

    return _move(deps, principal, campaign_id, change)


def _reopen(step: CampaignStep) -> None:
    if step.state == StepState.FAILED.value:
        step.state = StepState.RUNNING.value
        step.finished_at = None
    if step.gate_state == GateState.FAILED.value:
        step.gate_state = None
        step.gate_results = []
        step.gate_reason = None
        step.gate_decided_by = None
        step.gate_decided_at = None


def abort(deps: engine.CampaignDeps, *, principal: Principal, campaign_id: uuid.UUID, reason: str) -> CampaignOut:
    """Stop for good at the next safe point: the running operations finish, a started drill is cleaned up, no
    failover or commit starts any more."""

    def change(session: Session, campaign: Campaign, now: Any) -> None:
        if campaign.state in {s.value for s in FINAL}:
            _require(campaign, CampaignState.RUNNING, action="aborted")
        campaign.state = CampaignState.ABORTING.value
        campaign.stop_reason = f"aborted by {principal.id}" + (f": {reason}" if reason else "")

    return _move(deps, principal, campaign_id, change)


def retry_vm(deps: engine.CampaignDeps, *, principal: Principal, campaign_id: uuid.UUID, vm_name: str) -> CampaignOut:
    """Run the current step again for one VM that failed or was refused in it (a new attempt of its job, or a new
    job once Azure allows it), without restarting the campaign; a stopped campaign goes on."""
    with transaction(deps.sessions) as session:
        campaign = _visible(session, campaign_id, principal)
        if campaign.state in {s.value for s in FINAL} or campaign.state == CampaignState.ABORTING.value:
            _require(campaign, CampaignState.STOPPED, CampaignState.RUNNING, action="retried")
        vm = next((v for v in campaign.vms if v.vm_name.lower() == vm_name.lower()), None)
        if vm is None:
            raise NotFound(f"Campaign {campaign_id} has no VM {vm_name}.", code="campaign_vm_not_found")
        step = campaign.steps[campaign.step_index]
        ref = launch.VmRef.of(vm)
        job = engine.jobs_of_keys(session, step).get(vm.vm_key)
        order = (campaign.version, step.position, JobKind(step.phase), dict(campaign.options))
        # A refused VM, or one whose job was cancelled (a cancelled job is not retried), gets a new job.
        relaunch = vm.vm_key in step.refused or (job is not None and job.job_state is JobState.CANCELLED)
        failed_job = job is not None and job.job_state is JobState.FAILED
        if not relaunch and not failed_job:
            raise Conflict(
                f"{vm.vm_name} has not failed in the current step ({step.phase}); nothing to retry.",
                code="vm_not_failed",
            )
    if relaunch:
        _relaunch(deps, campaign_id, ref, order)
    elif job is not None:
        with transaction(deps.sessions) as session:
            control.retry(session, job_id=job.id, settings=deps.settings.job, now=utcnow(), actor=principal.id)
        deps.doorbell.ring([job.id])

    def change(session: Session, campaign: Campaign, now: Any) -> None:
        _reopen(campaign.steps[campaign.step_index])
        if campaign.state == CampaignState.STOPPED.value:
            campaign.state = CampaignState.RUNNING.value
            campaign.stop_reason = None

    return _move(deps, principal, campaign_id, change)


def _relaunch(
    deps: engine.CampaignDeps,
    campaign_id: uuid.UUID,
    ref: launch.VmRef,
    order: tuple[int, int, JobKind, dict[str, Any]],
) -> None:
    """Check a refused VM again and start its job; still refused: the refusal in Azure's words (nothing moves)."""
    version, position, phase, options = order
    prepared = launch.prepare(deps, phase, [ref], options)
    if ref.vm_key in prepared.refused:
        refusal = prepared.refused[ref.vm_key]
        raise PrerequisitesFailed([VmProblem(vm=ref.vm_name, code=refusal["code"], message=refusal["message"])])
    try:
        with transaction(deps.sessions) as session:
            campaign = session.get_one(Campaign, campaign_id)
            if campaign.version != version:
                raise Conflict("The campaign moved at the same moment; try again.", code="campaign_moved")
            step = campaign.steps[position]
            started = launch.record(
                deps, session, prepared, requested_by=campaign.created_by or "campaign", now=utcnow()
            )
            step.jobs = {**step.jobs, **{key: str(job_id) for key, job_id in started.items()}}
            step.refused = {key: why for key, why in step.refused.items() if key != ref.vm_key}
            step.skipped = {**step.skipped, **prepared.skipped}
            campaign.updated_at = utcnow()
    except StaleDataError:
        raise Conflict("The campaign moved at the same moment; try again.", code="campaign_moved") from None
    deps.doorbell.ring(list(started.values()))
