"""What each item-operation job kind asks of Site Recovery: one table of kinds to operations.

An operation names the ``allowedOperations`` entry it needs, the scenario the item's ``currentScenario`` and
the ASR job show while it runs, the SDK call that starts it, and the item's state once it has taken effect
(docs/campaigns.md; emulator README "The whole cycle"). Reprotect has its own steps (``app.job.steps``).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from app.cloud.types import Cloud, ReplicatedItem, TestFailoverSpec, UnplannedFailoverSpec
from app.errors import CloudPermanent
from app.job.kinds import JobKind
from app.job.prerequisites import COMMITTED_STATES

LATEST = "latest"
LATEST_APP_CONSISTENT = "latest_app_consistent"
FAILED_OVER_STATES = frozenset({"unplannedfailovercommitpendingstatesbegin", "plannedfailovercommitpendingstatesbegin"})


@dataclass(frozen=True)
class ItemOperation:
    """What one job kind asks of Site Recovery and how it knows it is done."""

    operation: str  # the allowedOperations entry
    scenario: str  # the item's currentScenario.scenarioName (and the ASR job's) while it runs
    label: str
    refusal_code: str  # the VM's problem code when allowedOperations lack the operation
    waiting_for: str  # what the settling step waits to see, in words
    done: Callable[[ReplicatedItem, dict[str, Any]], bool]  # the item shows the operation took effect
    send: Callable[[Cloud, ReplicatedItem, dict[str, Any]], str]


def failover_direction(item: ReplicatedItem) -> str:
    """A2A fails over away from where the item is active: ``PrimaryToRecovery`` while active on its primary
    side (a reprotected item lives under the region it runs in), ``RecoveryToPrimary`` otherwise."""
    return "PrimaryToRecovery" if item.active_location.lower() == "primary" else "RecoveryToPrimary"


def recovery_point_id(cloud: Cloud, item: ReplicatedItem, options: dict[str, Any]) -> str | None:
    """The recovery point asked for: None for the latest processed one (the SDK's "null means latest"), the
    newest app-consistent one, or the id given."""
    point = str(options.get("recovery_point") or LATEST)
    if point == LATEST:
        return None
    if point != LATEST_APP_CONSISTENT:
        return point
    points = [p for p in cloud.list_recovery_points(item.ref) if p.type.lower() == "appconsistent"]
    if not points:
        raise CloudPermanent(
            "Site Recovery lists no app-consistent recovery point for this VM.", code="no_app_consistent_point"
        )
    return points[0].id


def _send_test_failover(cloud: Cloud, item: ReplicatedItem, options: dict[str, Any]) -> str:
    spec = TestFailoverSpec(
        item=item.ref,
        network_id=str(options["test_network_id"]),
        recovery_point_id=recovery_point_id(cloud, item, options),
    )
    return cloud.test_failover(spec)


def _send_cleanup(cloud: Cloud, item: ReplicatedItem, options: dict[str, Any]) -> str:
    return cloud.test_failover_cleanup(item.ref, str(options.get("comments") or ""))


def _send_failover(cloud: Cloud, item: ReplicatedItem, options: dict[str, Any]) -> str:
    spec = UnplannedFailoverSpec(
        item=item.ref,
        failover_direction=failover_direction(item),
        recovery_point_id=recovery_point_id(cloud, item, options),
    )
    return cloud.unplanned_failover(spec)


def _send_commit(cloud: Cloud, item: ReplicatedItem, options: dict[str, Any]) -> str:
    return cloud.failover_commit(item.ref)


def _idle(item: ReplicatedItem) -> bool:
    return item.current_scenario.lower() == "none" or not item.current_job_id


def _drilled(item: ReplicatedItem, options: dict[str, Any]) -> bool:
    # A finished test failover keeps naming itself in currentScenario until its cleanup.
    return item.test_failover_state == "WaitingForCompletion"


def _cleaned(item: ReplicatedItem, options: dict[str, Any]) -> bool:
    return item.test_failover_state == "None" and (_idle(item) or item.current_scenario != "TestFailoverCleanup")


def _failed_over(item: ReplicatedItem, options: dict[str, Any]) -> bool:
    # Only a failover leads to a commit-pending state (the operation is refused on an item already in one).
    return item.protection_state.lower() in FAILED_OVER_STATES and _idle(item)


def _committed(item: ReplicatedItem, options: dict[str, Any]) -> bool:
    return item.protection_state.lower() in COMMITTED_STATES and _idle(item)


OPERATIONS: dict[JobKind, ItemOperation] = {
    JobKind.DRILL: ItemOperation(
        "TestFailover",
        "TestFailover",
        "test failover",
        "test_failover_not_allowed",
        "testFailoverState WaitingForCompletion",
        _drilled,
        _send_test_failover,
    ),
    JobKind.DRILL_CLEANUP: ItemOperation(
        "TestFailoverCleanup",
        "TestFailoverCleanup",
        "test failover cleanup",
        "test_failover_cleanup_not_allowed",
        "testFailoverState None",
        _cleaned,
        _send_cleanup,
    ),
    JobKind.FAILOVER: ItemOperation(
        "UnplannedFailover",
        "UnplannedFailover",
        "failover",
        "failover_not_allowed",
        "the failover done, pending commit",
        _failed_over,
        _send_failover,
    ),
    JobKind.COMMIT: ItemOperation(
        "Commit",
        "CommitFailover",
        "commit",
        "commit_not_allowed",
        "the failover committed",
        _committed,
        _send_commit,
    ),
}


def operation_of(kind: str) -> ItemOperation:
    """The operation of an item-operation kind (``KeyError`` for the reprotect kinds, which have their own steps)."""
    return OPERATIONS[JobKind(kind)]


def not_allowed(op: ItemOperation, item: ReplicatedItem) -> tuple[str, str] | None:
    """The refusal (code, message in Azure's words) when the item's ``allowedOperations`` lack the operation."""
    if op.operation in item.allowed_operations:
        return None
    allowed = ", ".join(item.allowed_operations) or "none"
    return op.refusal_code, (
        f"Site Recovery does not allow {op.operation} on this VM now: its allowedOperations are [{allowed}] "
        f"(protectionState '{item.protection_state}': {item.protection_state_description or 'no description'}; "
        f"testFailoverState '{item.test_failover_state}')."
    )
