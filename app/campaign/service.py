"""The campaign use cases, one function each: create (or plan), read, list, approve a gate, pause, resume,
abort, and retry one VM. The sweeper's use case is ``app.campaign.engine.sweep``.

Each control action is a move of the campaign's row (its version guards against a sweeper moving it at the
same moment: the loser gets a 409 and may try again); none interrupts an operation Azure runs.
"""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload
from sqlalchemy.orm.exc import StaleDataError

from app.auth.principal import Principal
from app.campaign import engine, events, history, intake, launch, present
from app.campaign.models import Campaign, CampaignStep, CampaignVm
from app.campaign.schemas import CampaignIn, CampaignOut, CampaignPage
from app.campaign.states import FINAL, CampaignState, GateState, StepState
from app.db import transaction, utcnow
from app.errors import Conflict, NotFound, PrerequisitesFailed, VmProblem
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
    deps.doorbell.ring_campaign(campaign_id)  # a worker starts the first step now rather than at the next sweep
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
    query = select(Campaign).options(selectinload(Campaign.steps), selectinload(Campaign.vms))
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
    """Apply ``change(session, campaign, now)`` in one transaction (409 if a sweeper moved it meanwhile), then ask a
    worker to move the campaign on at once (Azure is never called in the API's request for it)."""
    try:
        with transaction(deps.sessions) as session:
            campaign = _visible(session, campaign_id, principal)
            now = utcnow()
            change(session, campaign, now)
            campaign.updated_at = now
            campaign.next_due_at = None
    except StaleDataError:
        raise _moved() from None
    if advance:
        deps.doorbell.ring_campaign(campaign_id)  # a worker moves it on now rather than at the next sweep
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
        history.move(campaign, CampaignState.RUNNING, actor=principal.id, reason=f"gate approved: {reason}", now=now)
        events.emit(
            session, campaign, EventType.CAMPAIGN_GATE, step=step, jobs=engine.jobs_of(session, [step]), now=now
        )

    return _move(deps, principal, campaign_id, change)


def pause(deps: engine.CampaignDeps, *, principal: Principal, campaign_id: uuid.UUID) -> CampaignOut:
    """No new step starts; the operations already sent to Azure finish."""

    def change(session: Session, campaign: Campaign, now: Any) -> None:
        _require(campaign, CampaignState.RUNNING, CampaignState.WAITING_GATE, action="paused")
        history.move(campaign, CampaignState.PAUSED, actor=principal.id, reason="paused", now=now)

    return _move(deps, principal, campaign_id, change, advance=False)


def resume(deps: engine.CampaignDeps, *, principal: Principal, campaign_id: uuid.UUID) -> CampaignOut:
    """Go on from a pause, or from a stop once its cause is dealt with (a failed step is judged again, a
    failed health check run again)."""

    def change(session: Session, campaign: Campaign, now: Any) -> None:
        _require(campaign, CampaignState.PAUSED, CampaignState.STOPPED, action="resumed")
        step = campaign.steps[campaign.step_index]
        _reopen(step)
        history.move(campaign, CampaignState.RUNNING, actor=principal.id, reason="resumed", now=now)
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
        unfinished = [s for s in CampaignState if s not in FINAL]
        _require(campaign, *unfinished, action="aborted")
        if campaign.state == CampaignState.ABORTING.value:
            return  # already on its way out: the first abort's reason stands
        campaign.stop_reason = f"aborted by {principal.id}" + (f": {reason}" if reason else "")
        history.move(campaign, CampaignState.ABORTING, actor=principal.id, reason=campaign.stop_reason, now=now)

    return _move(deps, principal, campaign_id, change)


def retry_vm(
    deps: engine.CampaignDeps,
    *,
    principal: Principal,
    campaign_id: uuid.UUID,
    vm_name: str,
    vault_id: str | None = None,
) -> CampaignOut:
    """Run the current step again for one VM that failed or was refused in it (a new attempt of its failed job,
    or a new job for a refused VM or a cancelled job), without restarting the campaign; a stopped campaign goes
    on. Only while it runs or has stopped: never while paused, waiting at a gate or aborting."""
    with transaction(deps.sessions) as session:
        campaign = _visible(session, campaign_id, principal)
        _require(campaign, CampaignState.STOPPED, CampaignState.RUNNING, action="retried")
        vm = _one_vm(campaign, vm_name, vault_id)
        step = campaign.steps[campaign.step_index]
        job = engine.jobs_of_keys(session, step).get(vm.vm_key)
        relaunch = vm.vm_key in step.refused or (job is not None and job.job_state is JobState.CANCELLED)
        if not relaunch and (job is None or job.job_state is not JobState.FAILED):
            raise Conflict(
                f"{vm.vm_name} has not failed in the current step ({step.phase}); nothing to retry.",
                code="vm_not_failed",
            )
        order = engine.Start(
            version=campaign.version,
            position=step.position,
            phase=JobKind(step.phase),
            vms=[launch.VmRef.of(vm)],
            options=dict(campaign.options),
            requested_by=principal.id,
        )
    if relaunch:
        job_ids = _relaunch(deps, campaign_id, order)
    else:
        assert job is not None
        job_ids = _retry_job(deps, principal, campaign_id, order, job.id)
    deps.doorbell.ring(job_ids)  # after the commit
    deps.doorbell.ring_campaign(campaign_id)
    return get(deps, principal=principal, campaign_id=campaign_id)


def _one_vm(campaign: Campaign, vm_name: str, vault_id: str | None) -> CampaignVm:
    matches = [
        vm
        for vm in campaign.vms
        if vm.vm_name.lower() == vm_name.lower() and (vault_id is None or vm.vault_id.lower() == vault_id.lower())
    ]
    if not matches:
        raise NotFound(f"Campaign {campaign.id} has no VM {vm_name}.", code="campaign_vm_not_found")
    if len(matches) > 1:
        raise Conflict(
            f"Campaign {campaign.id} has {len(matches)} VMs named {vm_name} (in different vaults); name its vault_id.",
            code="vm_name_ambiguous",
        )
    return matches[0]


def _going_on(campaign: Campaign, actor: str, now: datetime, reason: str) -> None:
    """The current step is judged again, and a stopped campaign runs again."""
    _reopen(campaign.steps[campaign.step_index])
    if campaign.state == CampaignState.STOPPED.value:
        history.move(campaign, CampaignState.RUNNING, actor=actor, reason=reason, now=now)
        campaign.stop_reason = None
    campaign.updated_at = now
    campaign.next_due_at = None


def _retry_job(
    deps: engine.CampaignDeps, principal: Principal, campaign_id: uuid.UUID, order: engine.Start, job_id: uuid.UUID
) -> list[uuid.UUID]:
    """A new attempt of the VM's failed job, in one transaction with the campaign going on: an abort or a pause
    committed since we looked makes it a 409 and nothing is retried."""
    try:
        with transaction(deps.sessions) as session:
            campaign = _at_version(session, campaign_id, order.version)
            now = utcnow()
            control.retry(session, job_id=job_id, settings=deps.settings.job, now=now, actor=principal.id)
            _going_on(campaign, principal.id, now, f"retry of {order.vms[0].vm_name}")
    except StaleDataError:
        raise _moved() from None
    return [job_id]


def _relaunch(deps: engine.CampaignDeps, campaign_id: uuid.UUID, order: engine.Start) -> list[uuid.UUID]:
    """Check a refused VM again and start its job; still refused: the refusal in Azure's words (nothing moves)."""
    ref = order.vms[0]
    prepared = launch.prepare(deps, order.phase, [ref], order.options)
    if ref.vm_key in prepared.refused:
        refusal = prepared.refused[ref.vm_key]
        raise PrerequisitesFailed([VmProblem(vm=ref.vm_name, code=refusal["code"], message=refusal["message"])])
    try:
        with transaction(deps.sessions) as session:
            campaign = _at_version(session, campaign_id, order.version)
            step = campaign.steps[order.position]
            now = utcnow()
            started = launch.record(deps, session, prepared, requested_by=order.requested_by, now=now)
            step.jobs = {**step.jobs, **{key: str(job_id) for key, job_id in started.items()}}
            step.refused = {key: why for key, why in step.refused.items() if key != ref.vm_key}
            step.skipped = {**step.skipped, **prepared.skipped}
            _going_on(campaign, order.requested_by, now, f"retry of {ref.vm_name}")
    except StaleDataError:
        raise _moved() from None
    return list(started.values())


def _at_version(session: Session, campaign_id: uuid.UUID, version: int) -> Campaign:
    campaign = session.get_one(Campaign, campaign_id)
    if campaign.version != version:
        raise _moved()
    return campaign


def _moved() -> Conflict:
    return Conflict("The campaign moved at the same moment; look at it and try again.", code="campaign_moved")
