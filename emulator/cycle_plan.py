"""Pure rules of the rest of the way home: each operation's ASR job (scenario, display name, tasks as Azure
shows them), how long each task takes, and the job's event timeline. Sources: README "The whole cycle"."""

from __future__ import annotations

import random
from dataclasses import dataclass

from emulator.simulation import Event, Plan, TaskSpec

TEST_FAILOVER = "TestFailover"
CLEANUP = "TestFailoverCleanup"
FAILOVER = "UnplannedFailover"
COMMIT = "CommitFailover"
OPERATIONS = (TEST_FAILOVER, CLEANUP, FAILOVER, COMMIT)

# Task ids are the emulator's (Azure's are not public); friendly names are Azure's where README cites them.
TFO_CHECK = "TestFailoverPreflightTask"
TFO_CREATE = "CreateTestVmTask"
TFO_PREPARE = "PrepareTestVmTask"
TFO_START = "StartTestVmTask"
CLEANUP_CHECK = "TestFailoverCleanupPreflightTask"
CLEANUP_DELETE = "DeleteTestVmTask"
FO_CHECK = "FailoverPreflightTask"
FO_SHUTDOWN = "ShutdownSourceVmTask"
FO_SYNC = "SyncLatestChangesTask"
FO_START = "StartFailoverTask"
FO_BOOT = "StartReplicaVmTask"
COMMIT_CHECK = "CommitPreflightTask"
COMMIT_RUN = "CommitTask"


@dataclass(frozen=True)
class JobKind:
    """One operation's job: its scenario name, display name, tasks and (min, max) seconds per task."""

    scenario: str
    display_name: str
    tasks: tuple[TaskSpec, ...]
    seconds: dict[str, tuple[float, float]]
    default_task: str  # where an injected failure strikes when the fault names no task


def _spec(task_id: str, friendly: str) -> TaskSpec:
    return TaskSpec(task_id, task_id, friendly)


KINDS: dict[str, JobKind] = {
    TEST_FAILOVER: JobKind(
        "TestFailover",
        "Test failover",
        (
            _spec(TFO_CHECK, "Prerequisites check for test failover"),
            _spec(TFO_CREATE, "Create test virtual machine"),
            _spec(TFO_PREPARE, "Preparing the virtual machine"),
            _spec(TFO_START, "Start the virtual machine"),
        ),
        {TFO_CHECK: (10, 20), TFO_CREATE: (90, 120), TFO_PREPARE: (30, 60), TFO_START: (30, 45)},
        TFO_CREATE,
    ),
    CLEANUP: JobKind(
        "TestFailoverCleanup",
        "Test failover cleanup",
        (
            _spec(CLEANUP_CHECK, "Prerequisites check for test failover cleanup"),
            _spec(CLEANUP_DELETE, "Delete the test virtual machine"),
        ),
        {CLEANUP_CHECK: (5, 15), CLEANUP_DELETE: (60, 120)},
        CLEANUP_DELETE,
    ),
    FAILOVER: JobKind(
        "UnplannedFailover",
        "Failover",
        (
            _spec(FO_CHECK, "Prerequisites check for failover"),
            _spec(FO_SHUTDOWN, "Shut down the virtual machine"),
            _spec(FO_SYNC, "Synchronizing the latest changes"),
            _spec(FO_START, "Start failover"),
            _spec(FO_BOOT, "Start the replica virtual machine"),
        ),
        {FO_CHECK: (10, 20), FO_SHUTDOWN: (60, 120), FO_SYNC: (20, 40), FO_START: (120, 240), FO_BOOT: (30, 60)},
        FO_START,
    ),
    COMMIT: JobKind(
        "CommitFailover",
        "Commit",
        (_spec(COMMIT_CHECK, "Prerequisite check"), _spec(COMMIT_RUN, "Commit")),
        {COMMIT_CHECK: (1, 2), COMMIT_RUN: (1, 3)},
        COMMIT_RUN,
    ),
}

# The operation name ``allowedOperations`` uses for each job (ReplicationProtectedItemOperation).
ALLOWED_NAME = {TEST_FAILOVER: "TestFailover", CLEANUP: "TestFailoverCleanup", FAILOVER: "UnplannedFailover"}
ALLOWED_NAME[COMMIT] = "Commit"


def plan(operation: str, rng: random.Random, *, shut_down_source: bool = True) -> Plan:
    """Sampled task durations; without source-site operations a failover skips shutdown and sync."""
    kind = KINDS[operation]
    durations = {task: rng.uniform(*span) for task, span in kind.seconds.items()}
    skipped = frozenset() if operation != FAILOVER or shut_down_source else frozenset({FO_SHUTDOWN, FO_SYNC})
    return Plan(queue_s=rng.uniform(1.0, 3.0), durations=durations, skipped=skipped, resync_s=0.0)


def schedule(operation: str, job_plan: Plan, start: float) -> list[Event]:
    """Every event of one job queued at ``start``, in order (tasks run one after the other)."""
    events = [Event(start + job_plan.queue_s, "job_start")]
    cursor = start + job_plan.queue_s
    for spec in KINDS[operation].tasks:
        if spec.task_id in job_plan.skipped:
            events.append(Event(cursor, "task_skip", spec.task_id))
            continue
        events.append(Event(cursor, "task_start", spec.task_id))
        cursor += job_plan.durations[spec.task_id]
        events.append(Event(cursor, "task_end", spec.task_id))
    events.append(Event(cursor, "job_end"))
    return events
