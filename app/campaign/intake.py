"""Taking a campaign in: resolve its VMs once (a list or a selector), vet its health checks, plan its steps,
and either show the plan (dry run) or record the campaign with its steps and VMs.

A VM is in at most one unfinished campaign (the partial unique index on ``campaign_vms``): a second campaign
naming it is refused 409 per VM, whatever the race.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from app.auth.principal import Principal
from app.auth.visibility import require_in_scope
from app.campaign import launch
from app.campaign.estimates import phase_seconds
from app.campaign.models import Campaign, CampaignStep, CampaignVm
from app.campaign.plan import StepSpec, steps_for, waves_by_size
from app.campaign.schemas import CampaignIn, CampaignPlanOut, PlannedStep
from app.campaign.states import CampaignState, StepState
from app.cloud.snapshots import listing
from app.cloud.types import ReplicatedItem
from app.db import transaction
from app.errors import Conflict, InvalidRequest, PrerequisitesFailed, VmProblem
from app.fleet import selectors
from app.job import intake, item_intake
from app.job.drill_schemas import DrillVm
from app.job.kinds import JobKind
from app.job.service import Deps
from app.outbound.vetting import vet_url

MAX_VMS = 500


@dataclass(frozen=True)
class Member:
    """A VM of the campaign as resolved: its item now, its key across moves, its failover wave."""

    item: ReplicatedItem
    wave: int

    @property
    def vm_key(self) -> str:
        return intake.vm_key(self.item.ref.vault.id, self.item.ref.name)

    @property
    def ref(self) -> launch.VmRef:
        return launch.VmRef(vm_key=self.vm_key, vault_id=self.item.ref.vault.id, vm_name=self.item.vm_name)


def resolve(deps: Deps, *, principal: Principal, body: CampaignIn) -> list[Member]:
    """The campaign's VMs, each found in Azure, inside the caller's scopes (403 / 422 per VM otherwise)."""
    for index, check in enumerate(body.drill_health_checks):
        vet_url(check.url, deps.settings.webhook, field=f"drill_health_checks[{index}].url")
    for wave, gate in body.wave_gates.items():
        for index, check in enumerate(gate.health_checks):
            vet_url(check.url, deps.settings.webhook, field=f"wave_gates.{wave}.health_checks[{index}].url")
    require_in_scope(principal, list(body.test_networks.values()))
    for network in body.test_networks.values():  # a mistyped network would only fail after hours of reprotect
        item_intake.check_network(listing(deps.cloud), network)
    if body.selector is not None:
        fleet = selectors.resolve(deps, principal=principal, selector=body.selector)
        items = sorted((vm.item for vm in fleet.vms), key=lambda item: (item.vm_name.lower(), item.ref.id.lower()))
        if not items:
            raise InvalidRequest("The selector matches no VM.", code="selector_empty")
        waves = waves_by_size(len(items), body.wave_size)
        members = [Member(item=item, wave=wave) for item, wave in zip(items, waves, strict=True)]
    else:
        require_in_scope(principal, [vm.item_id or str(vm.vault_id) for vm in body.vms])
        refs = [DrillVm(item_id=vm.item_id, vault_id=vm.vault_id, vm_name=vm.vm_name) for vm in body.vms]
        found = item_intake.find_all(deps.cloud, refs)
        members = [Member(item=entry.item, wave=vm.wave) for entry, vm in zip(found, body.vms, strict=True)]
    if len(members) > MAX_VMS:
        raise InvalidRequest(
            f"{len(members)} VMs: a campaign takes at most {MAX_VMS}; split it.",
            code="too_many_vms",
            details={"matched": len(members), "limit": MAX_VMS},
        )
    unknown = sorted({int(wave) for wave in body.wave_gates} - {m.wave for m in members})
    if unknown:
        raise InvalidRequest(f"wave_gates name wave(s) no VM is in: {unknown}.", code="unknown_wave")
    return members


def _home(item: ReplicatedItem) -> str:
    """The region the VM goes home to: where replication was first enabled from."""
    if item.initial_primary_location:
        return item.initial_primary_location
    return item.primary_location if item.active_location.lower() == "recovery" else item.recovery_location


def dry_run(deps: Deps, body: CampaignIn, members: list[Member]) -> CampaignPlanOut:
    """The whole plan: steps in order with their VMs, gates and estimates; the refusals the first step would
    meet now (the same checks as ``POST /reprotect``); VMs without a test network; recovery points of the VMs
    already protected (the others get theirs once reprotected)."""
    options = body.model_dump(mode="json")
    refs = [m.ref for m in members]
    prepared = launch.prepare(deps, JobKind.REPROTECT, refs, options, wait_on_passing=False)
    names = {m.vm_key: m.item.vm_name for m in members}
    refused = [{"vm": names[key], "phase": "reprotect", **refusal} for key, refusal in prepared.refused.items()]
    networks = {item_intake.region_key(region) for region in body.test_networks}
    if body.drill:
        refused.extend(
            {
                "vm": m.item.vm_name,
                "phase": "drill",
                "code": "no_test_network",
                "message": f"No test network is given for {_home(m.item)}, where this VM's drill would run.",
            }
            for m in members
            if item_intake.region_key(_home(m.item)) not in networks
        )
    with transaction(deps.sessions) as session:
        per_phase = phase_seconds(session)
    per_phase[JobKind.REPROTECT] = max((p.estimated_seconds for g in prepared.groups for p in g.plans), default=0.0)
    steps = [
        _planned(spec, members, prepared.skipped if spec.phase is JobKind.REPROTECT else {}, names, per_phase)
        for spec in steps_for([m.wave for m in members], options)
    ]
    points = {
        m.item.vm_name: len(deps.cloud.list_recovery_points(m.item.ref))
        for m in members
        if m.item.protection_state.lower() == "protected"
    }
    return CampaignPlanOut(
        name=body.name,
        vm_count=len(members),
        steps=steps,
        refused=refused,
        recovery_points=points,
        estimated_seconds=sum(step.estimated_seconds for step in steps),
    )


def _planned(
    spec: StepSpec,
    members: list[Member],
    skipped: dict[str, str],
    names: dict[str, str],
    per_phase: dict[JobKind, float],
) -> PlannedStep:
    in_step = [m for m in members if spec.wave is None or m.wave == spec.wave]
    going = [m for m in in_step if m.vm_key not in skipped]
    return PlannedStep(
        phase=spec.phase.value,
        wave=spec.wave,
        vms=[m.item.vm_name for m in going],
        skipped={names[key]: why for key, why in skipped.items()},
        gate=spec.gate.value,
        health_checks=spec.health_checks,
        estimated_seconds=per_phase[spec.phase] if going else 0.0,
    )


def record(session: Session, body: CampaignIn, members: list[Member], *, created_by: str, now: datetime) -> Campaign:
    """The campaign, its steps and its VMs; 409 per VM already in an unfinished campaign."""
    refuse_in_campaign(session, members)
    options = body.model_dump(mode="json", exclude={"vms", "selector"})
    campaign = Campaign(
        id=uuid.uuid4(),
        name=body.name,
        state=CampaignState.RUNNING.value,
        history=[
            {
                "at": now.isoformat().replace("+00:00", "Z"),
                "from_state": None,
                "to_state": CampaignState.RUNNING.value,
                "actor": created_by,
                "reason": "created",
            }
        ],
        step_index=0,
        options=options,
        vault_ids=sorted({m.item.ref.vault.id for m in members}),
        created_by=created_by,
        created_at=now,
        updated_at=now,
        next_due_at=now,
    )
    session.add(campaign)
    for position, spec in enumerate(steps_for([m.wave for m in members], options)):
        campaign.steps.append(
            CampaignStep(
                position=position,
                phase=spec.phase.value,
                wave=spec.wave,
                state=StepState.PENDING.value,
                jobs={},
                skipped={},
                refused={},
                gate=spec.gate.value,
                gate_checks=spec.health_checks,
                gate_results=[],
            )
        )
    for position, member in enumerate(members):
        campaign.vms.append(
            CampaignVm(
                vm_key=member.vm_key,
                position=position,
                vm_name=member.item.vm_name,
                vault_id=member.item.ref.vault.id,
                wave=member.wave,
                active=True,
            )
        )
    try:
        session.flush()
    except IntegrityError as exc:  # a concurrent campaign took one of these VMs between our check and our insert
        raise RaceLost("Another campaign took one of these VMs at the same moment.") from exc
    return campaign


class RaceLost(Conflict):
    """A concurrent campaign was recorded for one of these VMs between our check and our insert."""

    code = "vm_in_campaign"


def refuse_in_campaign(session: Session, members: list[Member]) -> None:
    """``PrerequisitesFailed`` (a conflict) naming, per VM already in an unfinished campaign, that campaign."""
    keys = {m.vm_key: m for m in members}
    taken = session.execute(
        select(CampaignVm.vm_key, CampaignVm.campaign_id).where(
            CampaignVm.vm_key.in_(list(keys)), CampaignVm.active.is_(True)
        )
    ).all()
    if taken:
        raise PrerequisitesFailed(
            [
                VmProblem(
                    vm=keys[key].item.vm_name,
                    code="vm_in_campaign",
                    message=f"Campaign {campaign_id} already takes this VM home; abort it or wait for it to end.",
                )
                for key, campaign_id in taken
            ],
            conflict=True,
        )
