"""API shapes of campaigns: what ``POST /campaigns`` takes, what ``GET /campaigns/{id}`` shows, and the bodies
of the control actions (approve, pause, resume, abort, retry one VM)."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from app.cloud.ids import VAULT_ID_PATTERN, VIRTUAL_NETWORK_ID_PATTERN
from app.job.drill_schemas import RECOVERY_POINT, DrillVm
from app.job.schemas import Strict, VmSelector

MAX_WAVES = 20
WAVE_KEY = r"^([1-9]|1[0-9]|20)$"  # a wave number, 1-20, as an object key


class CampaignVmIn(DrillVm):
    """One VM of a campaign and the failover wave it belongs to (1 fails over first)."""

    wave: int = Field(default=1, ge=1, le=MAX_WAVES)


class HealthCheck(Strict):
    """An application endpoint that must answer ``expected_status`` before the campaign goes on."""

    url: str = Field(min_length=8, max_length=2000, pattern=r"^https?://")
    expected_status: int = Field(default=200, ge=100, le=599)


class WaveGate(Strict):
    """The gate after one failover wave: automatic (its VMs up), or an operator's approval, and optional
    health checks of the wave's application endpoints."""

    approval: Literal["auto", "manual"] = "auto"
    health_checks: list[HealthCheck] = Field(default_factory=list, max_length=20)


class CampaignIn(Strict):
    """Body of ``POST /campaigns``: VMs (1-500 listed, or a selector), the drill's test networks per region, the
    recovery points, and the gates."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "oneOf": [
                {"required": ["vms"], "properties": {"vms": {"minItems": 1}, "selector": {"type": "null"}}},
                {"required": ["selector"], "properties": {"selector": {"type": "object"}, "vms": {"maxItems": 0}}},
            ]
        },
    )

    name: str = Field(min_length=1, max_length=200, pattern=r"^[^\x00-\x1f]+$")
    vms: list[CampaignVmIn] = Field(default_factory=list, max_length=500)
    selector: VmSelector | None = Field(default=None, description="instead of vms: the VMs a selector names")
    wave_size: int | None = Field(
        default=None, ge=1, le=500, description="with a selector: VMs per failover wave, in name order"
    )
    drill: bool = Field(
        default=True,
        description="run a test failover (and its cleanup) before failing over; without it the drill_* options and "
        "test_networks are not used",
    )
    test_networks: dict[
        Annotated[str, Field(min_length=2, max_length=60, pattern=r"^[A-Za-z0-9 ]+$")],
        Annotated[str, Field(min_length=10, max_length=800, pattern=VIRTUAL_NETWORK_ID_PATTERN)],
    ] = Field(
        default_factory=dict,
        max_length=20,
        description="per region (where the VMs run once home): the isolated virtual network for the drill's test VMs",
        json_schema_extra={"additionalProperties": False},  # keys must match the region pattern
    )
    drill_recovery_point: str = Field(default="latest", max_length=900, pattern=RECOVERY_POINT)
    drill_approval: Literal["auto", "manual"] = Field(
        default="manual", description="the validation gate after the drill: an operator approves (default)"
    )
    drill_health_checks: list[HealthCheck] = Field(
        default_factory=list,
        max_length=20,
        description="checked once the test VMs are up (their endpoints in the test network); one failing stops the "
        "campaign before any failover",
    )
    drill_comments: str = Field(default="", max_length=1024, description="kept with the test failover's cleanup")
    failover_recovery_point: str = Field(default="latest", max_length=900, pattern=RECOVERY_POINT)
    wave_gates: dict[Annotated[str, Field(pattern=WAVE_KEY)], WaveGate] = Field(
        default_factory=dict,
        max_length=MAX_WAVES,
        description='per wave number ("1" fails over first): the gate after that wave\'s failover (default auto)',
        json_schema_extra={"additionalProperties": False},  # keys must be wave numbers
    )

    @model_validator(mode="after")
    def _consistent(self) -> CampaignIn:
        if bool(self.vms) == (self.selector is not None):
            raise ValueError("name 1-500 VMs in vms, or give a selector, not both")
        if self.wave_size is not None and self.selector is None:
            raise ValueError("wave_size splits a selector's VMs; give each listed VM its wave instead")
        if self.drill and not self.test_networks:
            raise ValueError("a drill needs test_networks (region -> isolated virtual network); or drill: false")
        return self


class ApproveIn(Strict):
    """Body of ``POST /campaigns/{id}/approve``: why the operator lets the campaign past its gate."""

    reason: str = Field(min_length=1, max_length=1000)


class AbortIn(Strict):
    """Body of ``POST /campaigns/{id}/abort``."""

    reason: str = Field(default="", max_length=1000)


class RetryVmIn(Strict):
    """Body of ``POST /campaigns/{id}/retry``: the VM (by name) whose failed step runs again."""

    vm_name: str = Field(min_length=1, max_length=200)
    vault_id: str | None = Field(
        default=None, max_length=400, pattern=VAULT_ID_PATTERN, description="needed only when two VMs share the name"
    )


class GateOut(BaseModel):
    """The gate after a step."""

    kind: str
    state: str | None
    health_checks: list[dict[str, Any]]
    results: list[dict[str, Any]]
    decided_by: str | None
    reason: str | None
    decided_at: datetime | None


class StepOut(BaseModel):
    """One step: a phase (or one failover wave), its VMs' outcome and its gate."""

    position: int
    phase: str
    wave: int | None
    state: str
    estimated_seconds: float
    started_at: datetime | None
    finished_at: datetime | None
    counts: dict[str, int]
    gate: GateOut


class CampaignVmOut(BaseModel):
    """One VM of the campaign: its wave, and per phase its job (state, error) or why it was skipped/refused."""

    vm_name: str
    vault_id: str
    wave: int
    phases: dict[str, dict[str, Any]]


class CampaignOut(BaseModel):
    """A campaign: where it stands, its steps with their gates, every VM, and when it should end."""

    id: uuid.UUID
    name: str
    state: str
    stop_reason: str | None
    blocked_reason: str | None = Field(
        description="why the current step could not start at the last try (e.g. Azure throttling); retried"
    )
    phase: str | None
    wave: int | None
    created_by: str | None
    created_at: datetime
    updated_at: datetime
    finished_at: datetime | None
    eta_at: datetime | None
    options: dict[str, Any]
    steps: list[StepOut]
    vms: list[CampaignVmOut]
    history: list[dict[str, Any]] = Field(description="every change of state: at, from_state, to_state, actor, reason")
    links: dict[str, str]


class CampaignSummaryOut(BaseModel):
    """A campaign in a list."""

    id: uuid.UUID
    name: str
    state: str
    phase: str | None
    wave: int | None
    vm_count: int
    created_by: str | None
    created_at: datetime
    links: dict[str, str]


class CampaignPage(BaseModel):
    """A page of campaigns, newest first."""

    items: list[CampaignSummaryOut]
    next_cursor: str | None


class PlannedStep(BaseModel):
    """A step of a dry run's plan."""

    phase: str
    wave: int | None
    vms: list[str]
    skipped: dict[str, str]
    gate: str
    health_checks: list[dict[str, Any]]
    estimated_seconds: float


class CampaignPlanOut(BaseModel):
    """A dry run: the steps in order, the VMs of each, what each gate is, and how long each should take."""

    name: str
    vm_count: int
    steps: list[PlannedStep]
    refused: list[dict[str, Any]]
    recovery_points: dict[str, int]
    estimated_seconds: float
