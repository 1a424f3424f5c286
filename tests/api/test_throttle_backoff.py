"""A throttled job is next due no earlier than Azure's Retry-After (jitter 1.0-1.5x) and never fails; consecutive transient errors grow the recorded backoff exponentially up to its cap, and a success resets the count."""

from __future__ import annotations

import time

import pytest

from tests.api.worker_support import ARM_DEFAULT_THROTTLE, accept, make_due, row, step, switch_calls, throttle
from tests.drive import drive

RETRY_AFTER = 16  # the emulator's bucket refills 1/16 token per second: every 429 says Retry-After: 16
EMPTY_BUCKET = {"burst": 0, "per_second": 1 / RETRY_AFTER}


@pytest.fixture(autouse=True)
def _default_throttle_afterwards(emulator):
    """Leave the shared emulator's bucket sizes as other tests expect them."""
    yield
    emulator.put("/_emulator/throttle", json=ARM_DEFAULT_THROTTLE).raise_for_status()


@pytest.mark.parametrize(
    ("state", "bucket"),
    [
        ("validating", "reads"),
        ("submitting", "writes"),
        ("reprotecting", "reads"),
    ],
)
def test_a_throttled_step_is_due_again_no_earlier_than_retry_after_and_the_job_goes_on(
    api, container, emulator, demo, state, bucket
):
    item = demo["committed"][0]
    job_id = accept(api, item)
    drive(container, until_state=state, job_id=job_id)
    before = row(container, job_id)
    throttle(emulator, **{bucket: EMPTY_BUCKET})
    throttled_before = emulator.get("/_emulator/stats").json()["throttled"]
    time.sleep(container.settings.azure.snapshot_ttl_seconds)  # the shared list snapshots must be read again

    make_due(container, job_id)
    done = step(container, job_id)

    assert emulator.get("/_emulator/stats").json()["throttled"] == throttled_before + 1
    assert done.ran
    assert done.state is not None
    assert done.state.value == state
    job = row(container, job_id)
    assert (job.state, job.error_code) == (state, None)
    assert RETRY_AFTER <= job.recorded_wait <= 1.5 * RETRY_AFTER
    assert done.due_in == pytest.approx(job.recorded_wait, abs=1e-3)
    assert job.transient_failures == 0  # throttling is not a fault of Azure's: no backoff counted
    assert job.history == before.history
    if state == "submitting":
        assert job.switch_sent_at is None  # a 429 was never processed: nothing can land later

    emulator.put("/_emulator/throttle", json={"enabled": False}).raise_for_status()
    make_due(container, job_id)
    drive(container)
    assert row(container, job_id).state == "protected"
    assert switch_calls(emulator, item) == 1


def test_consecutive_transient_errors_back_off_exponentially_up_to_the_cap_and_a_success_resets(
    api, container, emulator, demo
):
    settings = container.settings.job.model_copy(
        update={"transient_backoff_base_seconds": 1.0, "transient_backoff_max_seconds": 8.0}
    )
    item = demo["committed"][0]
    job_id = accept(api, item)
    drive(container, until_state="reprotecting", job_id=job_id)
    # 500 without Retry-After: the worker's own backoff alone decides the wait.
    emulator.put("/_emulator/faults/transient", json={"rate": 1.0, "status": 500}).raise_for_status()

    waits = []
    for failures in range(1, 8):
        make_due(container, job_id)
        step(container, job_id, settings=settings)
        job = row(container, job_id)
        assert (job.state, job.transient_failures) == ("reprotecting", failures)
        ceiling = min(8.0, 1.0 * 2 ** (failures - 1))  # 1, 2, 4, 8, 8, 8, 8
        assert ceiling / 2 <= job.recorded_wait <= ceiling, (failures, job.recorded_wait)
        waits.append(job.recorded_wait)
    assert waits[3] > waits[0]  # the fourth wait (4-8 s) is longer than the first (0.5-1 s)
    assert max(waits) <= 8.0

    emulator.delete("/_emulator/faults").raise_for_status()
    make_due(container, job_id)
    step(container, job_id, settings=settings)
    job = row(container, job_id)
    assert job.transient_failures == 0
    assert job.state in ("reprotecting", "syncing")
    assert job.recorded_wait <= settings.poll_interval_seconds  # back to the normal pace, not the backoff
    drive(container)
    assert row(container, job_id).state == "protected"
