"""API shapes of the job domain: what callers send to ``/reprotect`` and what ``/jobs`` answers."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, WithJsonSchema, model_validator
from pydantic.config import JsonDict

from app.cloud.ids import ITEM_ID_PATTERN, VAULT_ID_PATTERN
from app.job.kinds import JobKind
from app.job.states import JobState

DiskType = Literal[
    "Standard_LRS", "Premium_LRS", "StandardSSD_LRS", "Premium_ZRS", "StandardSSD_ZRS", "PremiumV2_LRS", "UltraSSD_LRS"
]


# An ARM resource id: segments of name characters only; no ".", "..", "?", "#", "%" or blank tricks.
ARM_ID = r"^/[Ss]ubscriptions/[\w-]+(/[\w()-][\w().-]*)+$"


KIND_DESCRIPTION = "what the job does: reprotect, drill (test failover) or drill_cleanup (its cleanup)"


class Strict(BaseModel):
    """Refuse unknown fields: a typo in a customisation must not be silently ignored."""

    model_config = ConfigDict(extra="forbid")


# What ``VmTarget._names_one_vm`` enforces, stated in the document: item_id, or vault_id plus vm_name.
_NAMES_ONE_VM: JsonDict = {
    "oneOf": [
        {
            "required": ["item_id"],
            "properties": {"item_id": {"type": "string"}, "vault_id": {"type": "null"}, "vm_name": {"type": "null"}},
        },
        {
            "required": ["vault_id", "vm_name"],
            "properties": {"item_id": {"type": "null"}, "vault_id": {"type": "string"}, "vm_name": {"type": "string"}},
        },
    ]
}


class VmTarget(Strict):
    """One VM to reprotect: its replicated item's id, or its vault plus the VM name, and customisation."""

    model_config = ConfigDict(extra="forbid", json_schema_extra=_NAMES_ONE_VM)

    # The documented patterns also state the shapes prerequisites refuse (invalid_item_id / invalid_vault_id).
    item_id: str | None = Field(
        default=None, min_length=10, max_length=800, pattern=ARM_ID, json_schema_extra={"pattern": ITEM_ID_PATTERN}
    )
    vault_id: str | None = Field(
        default=None, min_length=10, max_length=400, pattern=ARM_ID, json_schema_extra={"pattern": VAULT_ID_PATTERN}
    )
    vm_name: str | None = Field(default=None, min_length=1, max_length=200, pattern=r"^[^/\\]+$")
    # Deprecated: reprotect to the original VM cannot change the target group (Azure's reprotect docs).
    # Kept so old clients still work when they name the original group; any other group is refused.
    target_resource_group_id: str | None = Field(
        default=None,
        max_length=400,
        pattern=r"^/[Ss]ubscriptions/[\w-]+/[Rr]esource[Gg]roups/[\w().-]*[\w()-]$",
        description="Deprecated: the VM always returns to its original VM's resource group. Only that group is "
        "accepted here; any other is refused (target_resource_group_not_changeable).",
        json_schema_extra={"deprecated": True},
    )
    cache_storage_account_id: str | None = Field(default=None, max_length=800, pattern=ARM_ID)
    availability_set_id: str | None = Field(default=None, max_length=800, pattern=ARM_ID)
    proximity_placement_group_id: str | None = Field(default=None, max_length=800, pattern=ARM_ID)
    target_disk_type: DiskType | None = None
    replica_disk_type: DiskType | None = None
    # Accepted only to refuse it with a clear message: reprotect cannot change the target network.
    target_network_id: Annotated[
        str | None,
        WithJsonSchema({"type": "null", "description": "Refused: reprotect cannot change the target network."}),
    ] = Field(default=None, max_length=800)

    @model_validator(mode="after")
    def _names_one_vm(self) -> VmTarget:
        if self.item_id is None and (self.vault_id is None or self.vm_name is None):
            raise ValueError("name the VM by item_id, or by vault_id plus vm_name")
        if self.item_id is not None and (self.vault_id is not None or self.vm_name is not None):
            raise ValueError("give either item_id, or vault_id plus vm_name, not both")
        return self

    @property
    def resource_ids(self) -> list[str]:
        """Every Azure resource this entry names: the VM (item or vault) and its customisation targets."""
        named = [
            self.item_id or self.vault_id,
            self.target_resource_group_id,
            self.cache_storage_account_id,
            self.availability_set_id,
            self.proximity_placement_group_id,
        ]
        return [rid for rid in named if rid]

    @property
    def label(self) -> str:
        """How the VM is named in messages."""
        return self.item_id or f"{self.vault_id}/{self.vm_name}"


ReprotectStatusName = Literal["needs_reprotect", "not_eligible", "in_progress", "protected", "failed"]


class VmSelector(Strict):
    """VMs of the watched vaults (inside the caller's scopes) named by what they are, not one by one."""

    vault_ids: list[Annotated[str, Field(max_length=400, pattern=VAULT_ID_PATTERN)]] | None = Field(
        default=None, min_length=1, max_length=100
    )
    subscription_ids: list[str] | None = Field(
        default=None, min_length=1, max_length=100, description="the VMs' own subscriptions"
    )
    source_region: str | None = Field(default=None, max_length=60, description="where the VMs run now")
    target_region: str | None = Field(default=None, max_length=60)
    resource_group: str | None = Field(default=None, max_length=90)
    name_prefix: str | None = Field(default=None, min_length=1, max_length=200)
    status: ReprotectStatusName = "needs_reprotect"


# What ``ReprotectIn._vms_or_selector`` enforces, stated in the document: 1-100 VMs, or a selector.
_VMS_OR_SELECTOR: JsonDict = {
    "oneOf": [
        {"required": ["vms"], "properties": {"vms": {"minItems": 1}, "selector": {"type": "null"}}},
        {"required": ["selector"], "properties": {"selector": {"type": "object"}, "vms": {"maxItems": 0}}},
    ]
}


class ReprotectIn(Strict):
    """Body of ``POST /reprotect``: a list of 1-100 VMs, or a selector (split into requests of 100)."""

    model_config = ConfigDict(extra="forbid", json_schema_extra=_VMS_OR_SELECTOR)

    vms: list[VmTarget] = Field(default_factory=list, max_length=100)
    selector: VmSelector | None = Field(
        default=None, description="Instead of vms: every VM of the watched vaults matching it (GET /vms)"
    )
    callback_url: str | None = Field(
        default=None,
        min_length=8,
        max_length=2000,
        description="https URL told of each job's outcome and of the request's completion (Standard Webhooks, "
        "signed with the callback_secret of the answer)",
    )

    @model_validator(mode="after")
    def _vms_or_selector(self) -> ReprotectIn:
        if bool(self.vms) == (self.selector is not None):
            raise ValueError("name 1-100 VMs in vms, or give a selector, not both")
        return self


class Resolved(BaseModel):
    """One artifact of the plan, existing or to be created, as on the portal's review blade."""

    model_config = ConfigDict(from_attributes=True)  # rendered from app.job.plan

    id: str | None
    name: str | None = None
    status: Literal["existing", "new", "fixed"]


class DiskPlan(BaseModel):
    """One managed disk: the disk in use now and the target disk reprotect replicates to."""

    model_config = ConfigDict(from_attributes=True)  # rendered from app.job.plan

    name: str
    disk_id: str
    target_disk_id: str
    status: Literal["existing", "new"]
    size_gb: float
    target_disk_type: str | None
    replica_disk_type: str | None
    disk_encryption_set_id: str | None = None
    ade_secret_vault_id: str | None = None
    ade_key_vault_id: str | None = None


class Direction(BaseModel):
    """From where the VM runs now to the region it goes back to."""

    model_config = ConfigDict(from_attributes=True)  # rendered from app.job.plan

    source: str
    target: str
    source_location: str
    target_location: str
    restores_original: bool = Field(
        default=False,
        description="true when replication goes back the way it was first enabled (the VM runs where it was first "
        "protected from, Azure's initialPrimaryFabricLocation): the job's kind is then `reprotect_back`",
    )


class RegionReadOut(BaseModel):
    """One read of a resource reprotect writes to, and what answered."""

    model_config = ConfigDict(from_attributes=True)  # rendered from app.job.plan

    what: str
    id: str
    answer: str


class RegionHealthOut(BaseModel):
    """Azure Resource Health's current status of the original VM, and what the service made of it."""

    model_config = ConfigDict(from_attributes=True)  # rendered from app.job.plan

    verdict: Literal["available", "outage", "user_initiated", "planned", "unexplained", "unknown", "unread"] = Field(
        description="only `outage` (Unavailable or Degraded for a platform, unplanned or outage cause) refuses"
    )
    state: str | None = Field(description="availabilityState as Azure said it")
    reason: str | None = Field(description="reasonType, context, category, healthEventCause as Azure said them")
    summary: str | None


class TargetRegion(BaseModel):
    """How the target region was found available: what was read, Resource Health, and (advisory) fabric health."""

    model_config = ConfigDict(from_attributes=True)  # rendered from app.job.plan

    location: str
    reads: list[RegionReadOut]
    resource_health: RegionHealthOut | None
    fabric_health: str | None = Field(description="the vault's fabric health: shown only, never refuses")
    fabric_health_errors: list[str]
    advisories: list[str]


class Plan(BaseModel):
    """What reprotect will do for one VM, resolved against Azure."""

    model_config = ConfigDict(from_attributes=True)  # rendered from app.job.plan

    vm: str
    item_id: str
    vault_id: str
    direction: Direction
    recovery_container_id: str
    policy_id: str
    target_resource_group: Resolved
    network: Resolved
    cache_storage_account: Resolved
    availability_set: Resolved | None
    proximity_placement_group: Resolved | None
    disks: list[DiskPlan]
    estimated_seconds: float
    target_region: TargetRegion | None = None
    scale_set: Resolved | None = None


class JobLink(BaseModel):
    """A job as listed in a request's answer."""

    id: uuid.UUID
    vm: str
    vault_id: str
    item_id: str
    state: JobState
    href: str
    kind: JobKind = Field(default=JobKind.REPROTECT, description=KIND_DESCRIPTION)


class ReprotectAccepted(BaseModel):
    """Answer to an accepted ``POST /reprotect``."""

    request_id: uuid.UUID
    href: str
    jobs: list[JobLink]
    callback_secret: str | None = Field(
        default=None, description="whsec_… secret signing this request's callbacks; shown this once"
    )


class DryRunOut(BaseModel):
    """Answer to ``POST /reprotect?dry_run=true``: the plan per VM, nothing submitted."""

    dry_run: Literal[True] = True
    plans: list[Plan]


class TaskOut(BaseModel):
    """One task of the ASR job, mirrored."""

    task_id: str
    name: str
    state: str
    state_description: str
    start_time: str | None
    end_time: str | None


class TransitionOut(BaseModel):
    """One entry of a job's history."""

    attempt: int
    from_state: JobState | None
    to_state: JobState
    at: datetime
    reason: str
    actor: str
    request_id: str | None = Field(
        default=None,
        description="The x-request-id of the API call this move comes from (a worker's moves: the call that "
        "started, retried or cancelled the job); search the logs for it.",
    )


class StepOut(BaseModel):
    """One of the service's steps with when it started and ended (latest attempt)."""

    state: JobState
    started_at: datetime
    ended_at: datetime | None


class JobError(BaseModel):
    """Why a job failed."""

    code: str
    message: str
    failed_in: JobState | None
    details: dict[str, Any] | None


class JobOut(BaseModel):
    """Everything a dashboard shows about one VM's reprotect."""

    id: uuid.UUID
    request_id: uuid.UUID
    href: str
    kind: JobKind = Field(default=JobKind.REPROTECT, description=KIND_DESCRIPTION)
    vm: str
    vault_id: str
    item_id: str
    new_item_id: str | None
    state: JobState
    terminal: bool
    attempt: int
    created_at: datetime
    updated_at: datetime
    submitted_at: datetime | None
    finished_at: datetime | None
    deadline_at: datetime
    asr_job_id: str | None
    asr_job_state: str | None
    asr_tasks: list[TaskOut]
    resync_percent: int | None
    eta: datetime | None
    customization: dict[str, Any]
    plan: dict[str, Any]
    steps: list[StepOut]
    error: JobError | None
    history: list[TransitionOut]


class JobItem(BaseModel):
    """A job as ``GET /jobs`` lists it: what a dashboard's row shows. ``view=full`` adds the rest of
    ``JobOut`` (history, steps, ASR tasks, plan, customisation)."""

    id: uuid.UUID
    request_id: uuid.UUID
    href: str
    kind: JobKind = Field(default=JobKind.REPROTECT, description=KIND_DESCRIPTION)
    vm: str
    vault_id: str
    subscription_id: str
    item_id: str
    new_item_id: str | None
    state: JobState
    terminal: bool
    attempt: int
    created_at: datetime
    updated_at: datetime
    submitted_at: datetime | None
    finished_at: datetime | None
    deadline_at: datetime
    asr_job_id: str | None
    asr_job_state: str | None
    resync_percent: int | None
    eta: datetime | None
    error: JobError | None
    asr_tasks: list[TaskOut] | None = Field(default=None, description="only with view=full")
    customization: dict[str, Any] | None = Field(default=None, description="only with view=full")
    plan: dict[str, Any] | None = Field(default=None, description="only with view=full")
    steps: list[StepOut] | None = Field(default=None, description="only with view=full")
    history: list[TransitionOut] | None = Field(default=None, description="only with view=full")


class JobPage(BaseModel):
    """A page of jobs, newest first; ``next_cursor`` fetches the next page."""

    items: list[JobItem]
    next_cursor: str | None


class SummaryGroup(BaseModel):
    """The counts of one vault, subscription or request (``key``), or of everything (``key`` null)."""

    key: str | None
    total: int
    counts: dict[str, int] = Field(description="jobs per state, every state listed")


class FailureCount(BaseModel):
    """How many failed jobs carry one error code."""

    code: str
    count: int


class JobSummary(BaseModel):
    """Counts per state, grouped as asked, the fleet's ETA and the most frequent failure codes."""

    group_by: Literal["none", "vault", "subscription", "request"]
    groups: list[SummaryGroup]
    total: int
    in_flight: int
    eta: datetime | None = Field(description="when the last in-flight job should finish (the latest ETA)")
    top_failures: list[FailureCount] = Field(description="error codes of failed jobs, most frequent first")


class RequestOut(BaseModel):
    """A reprotect request with counts per state and its jobs."""

    id: uuid.UUID
    created_at: datetime
    vm_count: int
    counts: dict[str, int]
    completed: bool
    jobs: list[JobOut]
