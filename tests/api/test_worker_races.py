"""Two workers racing for one job: the lease holder alone runs a step; a worker whose lease was taken over can neither mark nor send switch protection nor overwrite the new holder's recorded result."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import pytest

from tests.api.worker_support import (
    ARM_DEFAULT_THROTTLE,
    PausingCloud,
    accept,
    expire_lease,
    make_due,
    released,
    row,
    step,
    switch_calls,
    throttle,
)
from tests.drive import drive

EMPTY_BUCKET = {"burst": 0, "per_second": 1 / 16}


@pytest.fixture(autouse=True)
def _default_throttle_afterwards(emulator):
    """Leave the shared emulator's bucket sizes as other tests expect them."""
    yield
    emulator.put("/_emulator/throttle", json=ARM_DEFAULT_THROTTLE).raise_for_status()


def test_while_a_worker_holds_the_lease_another_workers_advance_does_not_run(api, container, emulator, demo):
    job_id = accept(api, demo["committed"][0])
    drive(container, until_state="validating", job_id=job_id)
    make_due(container, job_id)
    container.cloud.snapshots.clear()  # validation reads the vault's item list from Azure: A pauses there
    a = PausingCloud(container.cloud, pause_after="list_vault_items_for_checks")
    b = PausingCloud(container.cloud, pause_after="-")
    with ThreadPoolExecutor(max_workers=1) as pool, released(a):
        first = pool.submit(step, container, job_id, worker="A", cloud=a)
        assert a.paused.wait(30)
        held = row(container, job_id)
        assert held.lease_owner == "A"

        second = step(container, job_id, worker="B", cloud=b)

        assert not second.ran
        assert b.calls == []  # B never asked Azure anything
        assert row(container, job_id) == held  # and changed nothing
        a.go.set()
        done = first.result(timeout=30)
    assert done.ran
    assert done.state is not None
    assert done.state.value == "submitting"
    job = row(container, job_id)
    assert [h[1] for h in job.history].count("submitting") == 1
    assert job.lease_owner is None


def test_a_worker_whose_lease_was_taken_over_neither_marks_nor_sends_switch_protection(api, container, emulator, demo):
    item = demo["committed"][0]
    job_id = accept(api, item)
    drive(container, until_state="submitting", job_id=job_id)
    make_due(container, job_id)
    a = PausingCloud(container.cloud, pause_after="get_item")
    b = PausingCloud(container.cloud, pause_after="get_item")
    with ThreadPoolExecutor(max_workers=2) as pool, released(a, b):
        late = pool.submit(step, container, job_id, worker="A", cloud=a)
        assert a.paused.wait(30)  # A has read the item (no reprotect on it yet) and stalls
        expire_lease(container, job_id)
        current = pool.submit(step, container, job_id, worker="B", cloud=b)
        assert b.paused.wait(30)  # B took the job over and is about to submit
        assert row(container, job_id).lease_owner == "B"

        a.go.set()
        lost = late.result(timeout=30)
        assert lost.ran
        assert lost.state is None  # A gave up: the job is no longer its to submit
        assert "switch_protection" not in a.calls
        marked = row(container, job_id)
        assert marked.lease_owner == "B"
        assert marked.switch_sent_at is None  # A wrote no send mark either
        assert switch_calls(emulator, item) == 0

        b.go.set()
        won = current.result(timeout=30)
    assert won.state is not None
    assert won.state.value == "reprotecting"
    assert switch_calls(emulator, item) == 1
    drive(container)
    job = row(container, job_id)
    assert job.state == "protected"
    assert [h[:2] for h in job.history].count(("submitting", "reprotecting")) == 1
    assert switch_calls(emulator, item) == 1


def test_a_worker_whose_lease_was_taken_over_cannot_overwrite_the_new_holders_result(api, container, emulator, demo):
    job_id = accept(api, demo["committed"][0])
    drive(container, until_state="validating", job_id=job_id)
    make_due(container, job_id)
    # A reads Azure without the adapter's cache, so its stalled step really meets the throttle below.
    a = PausingCloud(container.cloud.inner, pause_after="get_item")
    with ThreadPoolExecutor(max_workers=1) as pool, released(a):
        late = pool.submit(step, container, job_id, worker="A", cloud=a)
        assert a.paused.wait(30)
        expire_lease(container, job_id)

        won = step(container, job_id, worker="B")  # B takes over and records validating -> submitting
        assert won.state is not None
        assert won.state.value == "submitting"
        recorded = row(container, job_id)

        # A wakes up, is throttled on its next read, and tries to record "come back in 16-24 s".
        throttle(emulator, reads=EMPTY_BUCKET)
        a.go.set()
        lost = late.result(timeout=30)
    assert emulator.get("/_emulator/stats").json()["throttled"] >= 1
    assert lost.ran
    assert lost.state is None
    assert row(container, job_id) == recorded  # B's transition, state, next_due_at and version stand
    assert recorded.history[-1][:2] == ("validating", "submitting")
    assert recorded.recorded_wait < 1.0
