"""Pure ETA rules: the reprotect docs' estimate up front, then the observed resync rate once it shows."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

# Disk throughput by SKU family (MB/s), used when nothing better is known.
_THROUGHPUT_MBPS = {"premium": 200.0, "standardssd": 120.0, "ultrassd": 400.0, "standard": 60.0}
# Share of each disk assumed to have changed while the VM ran in the recovery region.
ASSUMED_CHANGED_FRACTION = 0.05
# The docs: changed data moves at about 23 % of the disk's throughput.
RESYNC_THROUGHPUT_SHARE = 0.23
PROCESSING_SHARE = 1 / 5
AUTOSCALE_SECONDS = 25 * 60  # the docs give 20 to 30 minutes
MB = 1024 * 1024


@dataclass(frozen=True)
class DiskLoad:
    """One disk as the estimate sees it."""

    size_bytes: int
    disk_type: str | None
    changed_bytes: int | None = None


def throughput_mbps(disk_type: str | None) -> float:
    """Throughput assumed for a disk SKU such as ``Premium_LRS``."""
    family = (disk_type or "standard").split("_", 1)[0].lower()
    return _THROUGHPUT_MBPS.get(family, _THROUGHPUT_MBPS["standard"])


def estimate_reprotect_seconds(disks: list[DiskLoad], *, enable_seconds: float | None = None) -> float:
    """The docs' estimate: enable time + changed data at 23 % throughput + 1/5 processing + autoscale.

    Disks replicate in parallel, so the slowest disk sets the pace. Without the original
    enable-replication time, a full copy of the largest disk at its throughput stands in for it.
    """
    if not disks:
        return float(AUTOSCALE_SECONDS)
    enable = enable_seconds
    if enable is None:
        enable = max(d.size_bytes / MB / throughput_mbps(d.disk_type) for d in disks)
    resync = max(
        (d.changed_bytes if d.changed_bytes is not None else d.size_bytes * ASSUMED_CHANGED_FRACTION)
        / MB
        / (RESYNC_THROUGHPUT_SHARE * throughput_mbps(d.disk_type))
        for d in disks
    )
    return (enable + resync) * (1 + PROCESSING_SHARE) + AUTOSCALE_SECONDS


def eta_from_progress(*, percent: int, watching_since: datetime, now: datetime) -> datetime | None:
    """Extrapolate the resync's observed rate: None until there is progress to extrapolate."""
    if percent <= 0:
        return None
    if percent >= 100:
        return now
    elapsed = (now - watching_since).total_seconds()
    remaining = elapsed * (100 - percent) / percent
    return now + timedelta(seconds=remaining)


def eta_from_estimate(*, started_at: datetime, estimated_seconds: float, now: datetime) -> datetime:
    """The up-front estimate as a point in time, never in the past while work goes on."""
    return max(started_at + timedelta(seconds=estimated_seconds), now)


def next_poll_seconds(*, eta_at: datetime | None, now: datetime, floor: float, ceiling: float) -> float:
    """When to look at an in-flight job again: half its expected remaining time (the docs' estimate, then the
    observed rate), within ``[floor, ceiling]``; ``floor`` when nothing is expected."""
    if eta_at is None:
        return floor
    remaining = (eta_at - now).total_seconds()
    return min(max(floor, ceiling), max(floor, remaining / 2))
