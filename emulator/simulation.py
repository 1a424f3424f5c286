"""Pure reprotect rules: the docs' duration estimate, the job's task timeline, artifact names and reuse.

Durations are simulated seconds. The docs estimate a reprotect as T_enable + changed data at 23 % of the
disk throughput + 1/5 of those two for processing + 20-30 min of autoscale. The job's "Reprotecting
virtual machine" task gets T_enable (+1/5) + autoscale; the resync after the job gets the data (+1/5).
"""

from __future__ import annotations

import random
import re
import string
from collections.abc import Iterable
from dataclasses import dataclass

THROUGHPUT_SHARE = 0.23
PROCESSING_SHARE = 0.2
AUTOSCALE_SECONDS = (20 * 60.0, 30 * 60.0)
DEFAULT_ENABLE_MINUTES = 40.0
_SKU_THROUGHPUT_MB_S = {
    "premium_lrs": 200.0,
    "premium_zrs": 200.0,
    "premiumv2_lrs": 300.0,
    "ultrassd_lrs": 400.0,
    "standardssd_lrs": 100.0,
    "standardssd_zrs": 100.0,
    "standard_lrs": 60.0,
}

PREFLIGHT = "SwitchReplicationGroupProtectionPreflightTask"
COMMIT = "CommitFailoverTask"
DISCOVER = "DiscoverReplicaTask"
REQUIREMENTS = "GetSwitchProtectionRequirementsTask"
PROTECT = "ProtectReplicaTask"


@dataclass(frozen=True)
class TaskSpec:
    """One task of the reprotect job as ASR names it."""

    task_id: str
    name: str
    friendly_name: str


TASKS: tuple[TaskSpec, ...] = (
    TaskSpec(PREFLIGHT, PREFLIGHT, "Prerequisite check"),
    TaskSpec(COMMIT, "VmCommitFailover", "Committing failover"),
    TaskSpec(DISCOVER, DISCOVER, "Discovering replica virtual machine"),
    TaskSpec(REQUIREMENTS, REQUIREMENTS, "Getting reprotection requirements"),
    TaskSpec(PROTECT, PROTECT, "Reprotecting virtual machine (1)"),
)
TASK_IDS = tuple(t.task_id for t in TASKS)

# Steps inside "Reprotecting virtual machine", as fractions of that task (docs' order).
MILESTONES: tuple[tuple[float, str], ...] = (
    (0.0, "artifacts"),
    (0.02, "target_vm_off"),
    (0.05, "seed_copied"),
    (0.15, "target_vm_deleted"),
    (0.2, "replicating_from_seed"),
)


@dataclass(frozen=True)
class DiskLoad:
    """What one disk must send during resync."""

    changed_gib: float
    throughput_mb_s: float


def default_throughput(sku: str) -> float:
    """A disk SKU's typical throughput in MB/s."""
    return _SKU_THROUGHPUT_MB_S.get(sku.lower(), 60.0)


def changed_gib(size_gib: float, changed: float | None, churn_mb_s: float | None, since_failover_s: float) -> float:
    """Data changed since failover: declared, or churn times elapsed time, never more than the disk."""
    if changed is not None:
        return min(float(changed), float(size_gib))
    if churn_mb_s:
        return min(float(size_gib), churn_mb_s * since_failover_s / 1024.0)
    return 0.0


def transfer_seconds(disks: Iterable[DiskLoad]) -> float:
    """Changed data at 23 % of each disk's throughput; disks replicate in parallel, the slowest decides."""
    times = [d.changed_gib * 1024.0 / (THROUGHPUT_SHARE * d.throughput_mb_s) for d in disks if d.throughput_mb_s > 0]
    return max(times, default=0.0)


@dataclass(frozen=True)
class Estimate:
    """The docs' reprotect estimate, by term."""

    enable_s: float
    transfer_s: float
    autoscale_s: float

    @property
    def processing_s(self) -> float:
        """One fifth of enable + transfer."""
        return PROCESSING_SHARE * (self.enable_s + self.transfer_s)

    @property
    def total_s(self) -> float:
        """The whole estimate."""
        return self.enable_s + self.transfer_s + self.processing_s + self.autoscale_s


def estimate(enable_s: float, disks: Iterable[DiskLoad], autoscale_s: float) -> Estimate:
    """The estimate for a VM whose original enable-replication took ``enable_s``."""
    return Estimate(enable_s=enable_s, transfer_s=transfer_seconds(disks), autoscale_s=autoscale_s)


def sample_autoscale(rng: random.Random) -> float:
    """Autoscale time, 20-30 minutes."""
    return rng.uniform(*AUTOSCALE_SECONDS)


@dataclass(frozen=True)
class Plan:
    """How long each part of one reprotect takes."""

    queue_s: float
    durations: dict[str, float]
    skipped: frozenset[str]
    resync_s: float

    @property
    def job_s(self) -> float:
        """Queue plus every task."""
        return self.queue_s + sum(self.durations.values())


def plan_reprotect(est: Estimate, rng: random.Random, *, commit_needed: bool = False) -> Plan:
    """Split ``est`` into the job's tasks (short checks, then the artifact+seed task) and the resync."""
    durations = {
        PREFLIGHT: rng.uniform(5.0, 20.0),
        COMMIT: rng.uniform(20.0, 60.0) if commit_needed else 0.0,
        DISCOVER: rng.uniform(2.0, 10.0),
        REQUIREMENTS: rng.uniform(3.0, 15.0),
        PROTECT: est.enable_s * (1 + PROCESSING_SHARE) + est.autoscale_s,
    }
    skipped = frozenset() if commit_needed else frozenset({COMMIT})
    resync = est.transfer_s * (1 + PROCESSING_SHARE)
    return Plan(queue_s=rng.uniform(1.0, 3.0), durations=durations, skipped=skipped, resync_s=resync)


@dataclass(frozen=True)
class Event:
    """Something that happens to a job at a simulated instant."""

    at: float
    kind: str  # job_start | task_start | task_end | task_skip | milestone | job_end
    task: str | None = None
    name: str | None = None


def schedule(plan: Plan, start: float) -> list[Event]:
    """Every event of a job that starts (is queued) at ``start``, in order."""
    events = [Event(start + plan.queue_s, "job_start")]
    cursor = start + plan.queue_s
    for task_id in TASK_IDS:
        if task_id in plan.skipped:
            events.append(Event(cursor, "task_skip", task_id))
            continue
        duration = plan.durations[task_id]
        events.append(Event(cursor, "task_start", task_id))
        if task_id == PROTECT:
            events += [Event(cursor + f * duration, "milestone", task_id, name) for f, name in MILESTONES]
        cursor += duration
        events.append(Event(cursor, "task_end", task_id))
    events.append(Event(cursor, "job_end"))
    return events


def resync_percent(elapsed_s: float, total_s: float) -> int:
    """Progress of the initial replication, 0-100."""
    if total_s <= 0:
        return 100
    return max(0, min(100, int(100 * elapsed_s / total_s)))


def lro_retry_after(time_scale: float) -> int:
    """Retry-After for LRO answers: ASR's 30 s, scaled, at least 1 s."""
    return max(1, round(30.0 / max(time_scale, 1e-9)))


def random_token(rng: random.Random, length: int = 6) -> str:
    """Lowercase letters and digits, as ASR prefixes generated names."""
    return "".join(rng.choice(string.ascii_lowercase + string.digits) for _ in range(length))


def _alnum(text: str) -> str:
    return re.sub(r"[^a-z0-9]", "", text.lower())


def cache_account_name(vault_name: str, token: str) -> str:
    """ASR's generated cache account name: token + 10 chars of the vault + ``asrcache`` (<= 24)."""
    return f"{_alnum(token)[:6]}{_alnum(vault_name)[:10]}asrcache"


def target_storage_account_name(source_account: str) -> str:
    """Unmanaged disks: the target account is named after the original with ``asr`` (<= 24 chars)."""
    return f"{_alnum(source_account)[:21]}asr"


def vhd_uri(account: str, disk_name: str) -> str:
    """Where an unmanaged disk lives in a storage account."""
    return f"https://{account}.blob.core.windows.net/vhds/{disk_name}.vhd"


def replica_disk_name(disk_name: str) -> str:
    """The replica managed disk ASR keeps in the target region."""
    return f"{disk_name}-ASRReplica"


def seed_blob_uri(cache_account: str, disk_name: str, token: str) -> str:
    """Where the target-side VM's disk is copied before that VM is deleted."""
    return f"https://{cache_account}.blob.core.windows.net/asrseed-{token}/{disk_name}.vhd"


@dataclass(frozen=True)
class Artifact:
    """A resource a reprotect needs, and whether it was reused or created."""

    kind: str
    id: str
    location: str
    action: str  # "reused" | "created"


def plan_artifacts(wanted: Iterable[tuple[str, str, str]], existing: set[str]) -> list[Artifact]:
    """Reuse what exists (``existing`` holds case-folded ids), create the rest, each id once."""
    seen: set[str] = set()
    planned = []
    for kind, arm_id, location in wanted:
        folded = arm_id.lower()
        if folded in seen:
            continue
        seen.add(folded)
        planned.append(Artifact(kind, arm_id, location, "reused" if folded in existing else "created"))
    return planned


def recovery_point_times(
    protected_at: float,
    now: float,
    *,
    crash_minutes: float,
    app_minutes: float,
    history_minutes: float,
    limit: int = 300,
) -> list[tuple[float, str]]:
    """Recovery points since protection, newest first, within the policy's history (crash/app consistent)."""
    if now < protected_at:
        return []
    step = max(crash_minutes, 1.0) * 60.0
    oldest = max(protected_at, now - history_minutes * 60.0) if history_minutes > 0 else now - step
    app_step = app_minutes * 60.0
    points: list[tuple[float, str]] = []
    t = protected_at + step * int((now - protected_at) // step)
    while t >= oldest and len(points) < limit:
        app = app_step > 0 and int((t - protected_at) // step) % max(1, round(app_step / step)) == 0
        points.append((t, "AppConsistent" if app else "CrashConsistent"))
        t -= step
    return points
