"""The replicated item's properties through the rest of the cycle: what each operation needs, what the item
shows while its job runs and once it succeeded (README "The whole cycle", with the spec examples cited)."""

from __future__ import annotations

from emulator import cycle_plan as cp
from emulator.builder import COMMITTED_OPERATIONS, PROTECTED_OPERATIONS, UNCOMMITTED_OPERATIONS
from emulator.state import Item

COMMIT_PENDING = "UnplannedFailoverCommitPendingStatesBegin"
COMMITTED = "UnplannedFailoverCommitted"
FAILOVER_RUNNING = "UnplannedFailoverInProgress"  # emulator's name: Azure's state during the job is not public
TFO_PENDING_OPERATIONS = ["TestFailoverCleanup"]

# The protection state each operation starts from (besides the operation being in allowedOperations).
REQUIRED_STATE = {
    cp.TEST_FAILOVER: "Protected",
    cp.CLEANUP: "Protected",
    cp.FAILOVER: "Protected",
    cp.COMMIT: COMMIT_PENDING,
}


def allows(item: Item, operation: str) -> bool:
    """The operation is in the item's allowedOperations and the item is in the state it starts from."""
    return (
        cp.ALLOWED_NAME[operation] in item.allowed_operations
        and item.protection_state == REQUIRED_STATE[operation]
        and item.scenario_name in ("None", "TestFailover")
    )


def enter(item: Item, operation: str, scenario_job_id: str, now: float) -> None:
    """The item while the operation's job runs: that scenario, nothing else allowed."""
    item.scenario_name, item.scenario_job_id, item.scenario_start = KIND_SCENARIO[operation], scenario_job_id, now
    item.allowed_operations = []
    if operation == cp.TEST_FAILOVER:
        item.test_failover_state, item.test_failover_state_description = "InProgress", "Test failover in progress"
    elif operation == cp.CLEANUP:
        item.test_failover_state = "MarkedForDeletion"
        item.test_failover_state_description = "Cleaning up test environment"
    elif operation == cp.FAILOVER:
        item.protection_state, item.protection_state_description = FAILOVER_RUNNING, "Failover in progress"
    else:
        item.protection_state_description = "Commit in progress"


def succeed(item: Item, operation: str, at: float, point_id: str | None) -> None:
    """The item once the operation's job succeeded."""
    if operation == cp.TEST_FAILOVER:
        # ReplicationProtectedItems_TestFailover example: still Protected, scenario TestFailover with its job.
        item.protection_state_description = "Cleanup test failover pending"
        item.test_failover_state = "WaitingForCompletion"
        item.test_failover_state_description = "Waiting for user input"
        item.allowed_operations = list(TFO_PENDING_OPERATIONS)
        item.last_test_failover_at, item.failover_point_id = at, point_id
        return
    item.scenario_name, item.scenario_job_id, item.scenario_start = "None", None, None
    if operation == cp.CLEANUP:
        item.protection_state = item.protection_state_description = "Protected"
        item.test_failover_state = item.test_failover_state_description = "None"
        item.allowed_operations = list(PROTECTED_OPERATIONS)
        item.test_network_id = item.test_vm_id = None
    elif operation == cp.FAILOVER:
        item.protection_state, item.protection_state_description = COMMIT_PENDING, "Failover completed"
        item.active_location = "Recovery"
        item.allowed_operations = list(UNCOMMITTED_OPERATIONS)
        item.last_failover_at, item.failover_point_id = at, point_id
    else:
        item.protection_state, item.protection_state_description = COMMITTED, "Failover committed"
        item.allowed_operations = list(COMMITTED_OPERATIONS)


KIND_SCENARIO = {op: cp.KINDS[op].scenario for op in cp.OPERATIONS}
