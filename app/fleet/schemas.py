"""API shapes of the fleet: the inventory (``GET /vms``), its summary, and selector-based reprotect."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Literal

from pydantic import BaseModel, Field

from app.errors import VmProblem
from app.fleet.status import ReprotectStatus
from app.job.states import JobState

GroupBy = Literal["vault", "subscription", "region"]


class UnreadableOut(BaseModel):
    """A vault (or a subscription searched for vaults) Azure would not list: its VMs are missing here, or shown
    from an earlier read (``read_at`` of the page)."""

    vault_id: str | None
    subscription_id: str | None
    code: str
    message: str


class VmJobOut(BaseModel):
    """Our latest reprotect job for the VM."""

    id: uuid.UUID
    request_id: uuid.UUID
    state: JobState
    progress_percent: int | None
    eta: datetime | None
    error_code: str | None
    href: str


class VmOut(BaseModel):
    """One replicated VM of a watched vault, as Azure reports it, joined with our latest job."""

    vm_name: str
    item_id: str
    vault_id: str
    vault_subscription_id: str
    subscription_id: str = Field(description="the VM's own subscription (a central vault may hold others')")
    resource_group: str | None = Field(description="the VM's resource group in the region it runs in now")
    source_region: str = Field(description="where the VM runs now")
    target_region: str = Field(description="the other region: where it replicates to, or reprotect sends it")
    protection_state: str
    protection_state_description: str
    active_location: str
    allowed_operations: list[str]
    replication_health: str
    reprotect_status: ReprotectStatus
    reason_code: str | None = Field(
        description="why not eligible (the refusal code POST /reprotect gives), or why failed"
    )
    reason: str | None
    job: VmJobOut | None


class VmPage(BaseModel):
    """A page of VMs ordered by vault then VM name; ``partial`` when some vault could not be read."""

    items: list[VmOut]
    next_cursor: str | None
    partial: bool
    unreadable: list[UnreadableOut]
    read_at: datetime | None = Field(description="when the oldest vault list shown was read from Azure")
    vault_count: int = Field(description="vaults read: watched (configured or discovered) or named, in your scopes")


class CodeCount(BaseModel):
    """How many VMs share one code."""

    code: str
    count: int


class SummaryGroup(BaseModel):
    """Counts by reprotect status for one vault, subscription or region."""

    key: str
    total: int
    counts: dict[str, int]
    eta: datetime | None = Field(description="when the last reprotect in progress here should finish")


class VmSummary(BaseModel):
    """Counts by reprotect status, grouped; the same filters as ``GET /vms``."""

    group_by: GroupBy
    vault_count: int
    total: int
    counts: dict[str, int]
    eta: datetime | None = Field(description="when the last reprotect in progress should finish (the fleet's ETA)")
    top_failure_codes: list[CodeCount] = Field(description="error codes of the failed VMs' jobs, most frequent first")
    top_not_eligible_reasons: list[CodeCount] = Field(description="why VMs cannot be reprotected, most frequent first")
    groups: list[SummaryGroup]
    partial: bool
    unreadable: list[UnreadableOut]


class SelectedVm(BaseModel):
    """One VM a selector resolved to."""

    vm_name: str
    item_id: str
    vault_id: str
    reprotect_status: ReprotectStatus


class CreatedRequest(BaseModel):
    """One of the requests a selector was split into."""

    request_id: uuid.UUID
    href: str
    vm_count: int
    callback_secret: str | None = None


class RefusedVm(BaseModel):
    """A VM the prerequisite checks refused; the rest of its batch was submitted without it."""

    vm: str
    code: str
    message: str


class SelectorOut(BaseModel):
    """Answer to a selector-based ``POST /reprotect`` (or its dry run: the resolved set)."""

    dry_run: bool
    matched: int
    requests: list[CreatedRequest]
    refused: list[RefusedVm]
    vms: list[SelectedVm] = Field(description="the resolved set (those refused are also in refused)")
    partial: bool
    unreadable: list[UnreadableOut]


def refused(problem: VmProblem) -> RefusedVm:
    """A refused VM as answered."""
    return RefusedVm(vm=problem.vm, code=problem.code, message=problem.message)
