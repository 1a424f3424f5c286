"""The docs' reprotect estimate and the observed-progress ETA."""

from datetime import UTC, datetime, timedelta

import pytest

from app.job.eta import (
    AUTOSCALE_SECONDS,
    MB,
    DiskLoad,
    estimate_reprotect_seconds,
    eta_from_estimate,
    eta_from_progress,
    throughput_mbps,
)

NOW = datetime(2026, 11, 24, 12, 0, tzinfo=UTC)


def test_estimate_follows_the_documented_formula():
    # 1 GiB changed at 23 % of 60 MB/s, 1 h enable time, +1/5 processing, +25 min autoscale.
    disk = DiskLoad(size_bytes=100 * 1024 * MB, disk_type="Standard_LRS", changed_bytes=1024 * MB)
    expected = (3600 + 1024 / (0.23 * 60)) * 1.2 + AUTOSCALE_SECONDS
    assert estimate_reprotect_seconds([disk], enable_seconds=3600) == pytest.approx(expected)


def test_slowest_disk_sets_the_pace():
    small = DiskLoad(size_bytes=10 * 1024 * MB, disk_type="Premium_LRS")
    big = DiskLoad(size_bytes=1024 * 1024 * MB, disk_type="Standard_LRS")
    assert estimate_reprotect_seconds([small, big]) == estimate_reprotect_seconds([big])


def test_faster_disk_skus_estimate_shorter():
    assert throughput_mbps("Premium_LRS") > throughput_mbps("StandardSSD_LRS") > throughput_mbps("Standard_LRS")
    assert throughput_mbps(None) == throughput_mbps("Standard_LRS")


def test_progress_eta_extrapolates_the_observed_rate():
    eta = eta_from_progress(percent=25, watching_since=NOW - timedelta(minutes=10), now=NOW)
    assert eta == NOW + timedelta(minutes=30)


def test_progress_eta_is_unknown_before_any_progress():
    assert eta_from_progress(percent=0, watching_since=NOW, now=NOW) is None


def test_estimate_eta_never_lies_in_the_past():
    assert eta_from_estimate(started_at=NOW - timedelta(hours=5), estimated_seconds=60, now=NOW) == NOW
