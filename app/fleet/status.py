"""Pure rule: a VM's reprotect status from Azure's word on its item and our latest job for it.

Eligibility is decided by the prerequisite checks' own state rule (``app.job.prerequisites``), so the
inventory never calls a VM ``needs_reprotect`` that ``POST /reprotect`` would refuse for its state.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from app.cloud.types import Cloud, ReplicatedItem
from app.job import prerequisites
from app.job.schemas import VmTarget
from app.job.states import ACTIVE_STATES, JobState

# Azure running a reprotect (switch protection) or the reverse initial replication that follows it.
_REPROTECT_SCENARIOS = frozenset({"switchprotection", "switchreplicationgroupprotection", "reprotect"})
_SYNCING_STATES = frozenset({"switchprotectioninprogress", "unprotectedstatesbegin"})


class ReprotectStatus(StrEnum):
    """Where a VM stands with respect to reprotect."""

    NEEDS_REPROTECT = "needs_reprotect"
    NOT_ELIGIBLE = "not_eligible"
    IN_PROGRESS = "in_progress"
    PROTECTED = "protected"
    FAILED = "failed"


@dataclass(frozen=True)
class Verdict:
    """A status and, for ``not_eligible`` and ``failed``, the reason's stable code and words."""

    status: ReprotectStatus
    reason_code: str | None = None
    reason: str | None = None


def decide(
    item: ReplicatedItem, *, job_state: JobState | None, job_error_code: str | None, protected_since_read: bool = False
) -> Verdict:
    """The reprotect status of one VM (``job_state``: our latest job's, None when we never had one;
    ``protected_since_read``: that job ended protected after Azure's copy of the item was read, so the copy
    predates the reprotect and its state no longer holds)."""
    if job_state in ACTIVE_STATES:
        return Verdict(ReprotectStatus.IN_PROGRESS)
    state = item.protection_state.lower()
    if state == "protected" or (job_state == JobState.PROTECTED and protected_since_read):
        return Verdict(ReprotectStatus.PROTECTED)
    if item.current_scenario.lower() in _REPROTECT_SCENARIOS or state in _SYNCING_STATES:
        return Verdict(ReprotectStatus.IN_PROGRESS)
    if job_state == JobState.FAILED:
        return Verdict(ReprotectStatus.FAILED, job_error_code, "Our latest reprotect job for this VM failed.")
    try:
        refused = _refusal(item)
    except prerequisites.VmCheckFailed as failed:
        return Verdict(ReprotectStatus.NOT_ELIGIBLE, failed.problem.code, failed.problem.message)
    return refused


def source_vm_refusal(cloud: Cloud, item: ReplicatedItem) -> Verdict | None:
    """``not_eligible`` when the original VM was moved or deleted (the prerequisite checks' own rule, answered
    from the subscription's VM list, which ``Cloud`` reads once per subscription); None when it is there."""
    try:
        prerequisites.check_source_vm(cloud, VmTarget(item_id=item.ref.id), item, None)
    except prerequisites.VmCheckFailed as failed:
        return Verdict(ReprotectStatus.NOT_ELIGIBLE, failed.problem.code, failed.problem.message)
    return None


def _refusal(item: ReplicatedItem) -> Verdict:
    """Needs reprotect unless the prerequisite checks' state rules refuse it (raised as ``VmCheckFailed``)."""
    target = VmTarget(item_id=item.ref.id)
    prerequisites.check_state(target, item)  # the one state rule, shared with POST /reprotect
    prerequisites.check_managed_disks(target, item)
    return Verdict(ReprotectStatus.NEEDS_REPROTECT)
