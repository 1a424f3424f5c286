"""Pure rules of the simulation: the docs' duration estimate, the job timeline, artifact naming and reuse,
recovery points, the clock and the throttle buckets."""

from __future__ import annotations

import random

import pytest

from emulator import simulation as sim
from emulator.clock import SimClock
from emulator.throttle import BucketConfig, TokenBucket


def test_estimate_is_enable_time_plus_data_at_23_percent_plus_a_fifth_plus_autoscale():
    disks = [sim.DiskLoad(changed_gib=100, throughput_mb_s=200)]
    est = sim.estimate(2400, disks, autoscale_s=1500)
    transfer = 100 * 1024 / (0.23 * 200)
    assert est.transfer_s == pytest.approx(transfer)
    assert est.processing_s == pytest.approx(0.2 * (2400 + transfer))
    assert est.total_s == pytest.approx(2400 + transfer + 0.2 * (2400 + transfer) + 1500)


def test_disks_replicate_in_parallel_so_the_slowest_disk_sets_the_transfer_time():
    fast = sim.DiskLoad(changed_gib=10, throughput_mb_s=200)
    slow = sim.DiskLoad(changed_gib=10, throughput_mb_s=60)
    assert sim.transfer_seconds([fast, slow]) == pytest.approx(10 * 1024 / (0.23 * 60))
    assert sim.transfer_seconds([]) == 0


def test_changed_data_comes_from_churn_when_not_declared_and_never_exceeds_the_disk():
    assert sim.changed_gib(128, 20, None, 3600) == 20
    assert sim.changed_gib(128, None, 1.0, 3600) == pytest.approx(3600 / 1024)
    assert sim.changed_gib(10, None, 100.0, 3600) == 10
    assert sim.default_throughput("Premium_LRS") > sim.default_throughput("Standard_LRS")


def test_autoscale_takes_20_to_30_minutes_and_is_seeded():
    samples = [sim.sample_autoscale(random.Random(seed)) for seed in range(50)]
    assert all(1200 <= s <= 1800 for s in samples)
    assert sim.sample_autoscale(random.Random(7)) == sim.sample_autoscale(random.Random(7))


def test_plan_gives_the_reprotect_task_enable_time_and_autoscale_and_the_resync_the_data():
    est = sim.Estimate(enable_s=2400, transfer_s=1000, autoscale_s=1500)
    plan = sim.plan_reprotect(est, random.Random(1))
    assert plan.durations[sim.PROTECT] == pytest.approx(2400 * 1.2 + 1500)
    assert plan.resync_s == pytest.approx(1000 * 1.2)
    assert plan.skipped == {sim.COMMIT}
    short = [plan.durations[t] for t in (sim.PREFLIGHT, sim.DISCOVER, sim.REQUIREMENTS)]
    assert all(1 <= d <= 20 for d in short)
    whole = plan.job_s + plan.resync_s
    assert whole == pytest.approx(est.total_s + plan.queue_s + sum(short), rel=1e-9)


def test_schedule_runs_the_tasks_in_asr_order_with_the_seed_steps_inside_the_reprotect_task():
    plan = sim.plan_reprotect(sim.Estimate(600, 60, 1200), random.Random(2))
    events = sim.schedule(plan, start=100.0)
    assert events[0].kind == "job_start"
    assert events[-1].kind == "job_end"
    started = [e.task for e in events if e.kind in ("task_start", "task_skip")]
    assert started == list(sim.TASK_IDS)
    assert [e.kind for e in events if e.task == sim.COMMIT] == ["task_skip"]
    steps = [e.name for e in events if e.kind == "milestone"]
    assert steps == [
        "artifacts",
        "target_vm_off",
        "seed_copied",
        "target_vm_deleted",
        "replicating_from_seed",
    ]
    times = [e.at for e in events]
    assert times == sorted(times)
    assert events[-1].at == pytest.approx(100.0 + plan.job_s)


def test_resync_percent_rises_from_0_to_100():
    assert sim.resync_percent(0, 100) == 0
    assert sim.resync_percent(50, 100) == 50
    assert sim.resync_percent(500, 100) == 100
    assert sim.resync_percent(1, 0) == 100


def test_lro_retry_after_is_30_seconds_scaled_and_at_least_one():
    assert sim.lro_retry_after(1) == 30
    assert sim.lro_retry_after(10) == 3
    assert sim.lro_retry_after(20000) == 1


def test_generated_cache_account_names_are_valid_storage_names():
    name = sim.cache_account_name("Contoso-DR-Vault", sim.random_token(random.Random(3)))
    assert name.endswith("asrcache")
    assert len(name) <= 24
    assert name.isalnum()
    assert name == name.lower()


def test_unmanaged_target_account_is_the_original_name_with_asr_within_24_characters():
    assert sim.target_storage_account_name("legacyappvhds") == "legacyappvhdsasr"
    long = sim.target_storage_account_name("averyveryverylongaccountname")
    assert long.endswith("asr")
    assert len(long) == 24


def test_artifacts_that_exist_are_reused_and_the_rest_created_once():
    wanted = [
        ("cache_storage_account", "/S/rg/Cache", "southeastasia"),
        ("cache_storage_account", "/s/rg/cache", "southeastasia"),
        ("availability_set", "/s/rg/avset", "eastasia"),
    ]
    planned = sim.plan_artifacts(wanted, existing={"/s/rg/avset"})
    assert [(a.kind, a.action) for a in planned] == [
        ("cache_storage_account", "created"),
        ("availability_set", "reused"),
    ]


def test_replica_disks_and_seed_blobs_have_predictable_names():
    assert sim.replica_disk_name("web-01_OsDisk_1") == "web-01_OsDisk_1-ASRReplica"
    uri = sim.seed_blob_uri("cacheacct", "web-01_OsDisk_1", "ab12cd34")
    assert uri == "https://cacheacct.blob.core.windows.net/asrseed-ab12cd34/web-01_OsDisk_1.vhd"


def test_recovery_points_follow_the_policy_frequency_and_history():
    points = sim.recovery_point_times(0, 3600, crash_minutes=5, app_minutes=60, history_minutes=30)
    assert len(points) == 7  # every 5 minutes over the last 30 minutes
    assert points[0][0] == 3600
    assert points == sorted(points, reverse=True)
    assert {kind for _, kind in points} == {"CrashConsistent", "AppConsistent"}
    assert sim.recovery_point_times(100, 50, crash_minutes=5, app_minutes=60, history_minutes=30) == []


def test_the_clock_scales_real_time_and_never_goes_back_when_the_scale_drops():
    real = [0.0]
    clock = SimClock(100, monotonic=lambda: real[0])
    real[0] = 2.0
    assert clock.now() == pytest.approx(200)
    clock.set_scale(1)
    assert clock.now() == pytest.approx(200)
    real[0] = 3.0
    assert clock.now() == pytest.approx(201)
    clock.advance(3600)
    assert clock.now() == pytest.approx(3801)
    assert clock.iso(0).endswith("Z")


def test_token_buckets_spend_refill_and_say_when_to_retry():
    bucket = TokenBucket(BucketConfig(burst=2, per_second=1), tokens=2, stamp=0.0)
    assert bucket.take(0.0)
    assert bucket.take(0.0)
    assert not bucket.take(0.0)
    assert bucket.retry_after() == 1
    assert bucket.take(1.0)
