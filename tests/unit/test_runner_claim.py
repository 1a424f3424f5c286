"""Claiming a job: only an active, due and free one is leased to the worker, with a snapshot of its row for the step."""

from __future__ import annotations

from datetime import timedelta

import pytest

from app.db import transaction
from app.job import runner
from app.job.runner import Claimed
from app.job.states import JobState
from app.job.steps import JobView, deadline_failure
from app.settings import JobSettings
from tests.unit.job_rows import NOW, VAULT, add_job, empty_database, read_job

SETTINGS = JobSettings(lease_seconds=120)
PLAN = {"vm": "vm1", "estimated_seconds": 900.0}


@pytest.fixture
def sessions(database_url):
    with empty_database(database_url) as sessions:
        yield sessions


def claim(sessions, job_id, *, worker="w1", now=NOW):
    with transaction(sessions) as session:
        return runner.claim(session, job_id=job_id, worker=worker, now=now, settings=SETTINGS)


def test_a_due_job_is_leased_to_the_worker_with_a_snapshot_for_its_step(sessions):
    job_id = add_job(
        sessions,
        state="submitting",
        created_at=NOW - timedelta(seconds=90),
        customization={"target_disk_type": "Premium_LRS"},
        plan=PLAN,
        asr_job_name="asr-1",
        new_item_id="/subscriptions/s/new-item",
        switch_sent_at=NOW - timedelta(seconds=20),
    )

    claimed = claim(sessions, job_id)

    assert claimed == Claimed(
        view=JobView(
            id=str(job_id),
            state=JobState.SUBMITTING,
            item_id=f"{VAULT}/replicationFabrics/f/replicationProtectionContainers/c/replicationProtectedItems/vm1",
            vault_id=VAULT,
            vm_name="vm1",
            customization={"target_disk_type": "Premium_LRS"},
            stored_plan=PLAN,
            asr_job_name="asr-1",
            new_item_id="/subscriptions/s/new-item",
            plan_age_seconds=90.0,
            switch_sent_seconds_ago=20.0,
        ),
        overdue=None,
    )
    row = read_job(sessions, job_id)
    assert (row.lease_owner, row.lease_until) == ("w1", NOW + timedelta(seconds=120))
    assert row.version == 2  # a claim is a change the API's writes must see


def test_a_retried_job_never_counts_its_plan_as_fresh_and_an_unsent_job_has_no_send_age(sessions):
    job_id = add_job(sessions, state="validating", attempt=2, plan=PLAN)

    view = claim(sessions, job_id).view

    assert (view.plan_age_seconds, view.switch_sent_seconds_ago) == (None, None)


def test_a_job_whose_row_has_no_plan_shows_none_to_its_step(sessions):
    job_id = add_job(sessions, plan={})

    assert claim(sessions, job_id).view.stored_plan is None


def test_a_job_past_its_deadline_is_claimed_to_be_failed(sessions):
    deadline = NOW - timedelta(seconds=1)
    job_id = add_job(sessions, state="reprotecting", deadline_at=deadline)

    assert claim(sessions, job_id).overdue == deadline_failure(deadline)


def test_a_job_at_its_deadline_is_not_yet_overdue(sessions):
    job_id = add_job(sessions, state="reprotecting", deadline_at=NOW)

    assert claim(sessions, job_id).overdue is None


@pytest.mark.parametrize(
    "due",
    [
        pytest.param({"next_due_at": NOW}, id="due-this-instant"),
        pytest.param({"next_due_at": None}, id="never-scheduled"),
        pytest.param({"lease_owner": "w0", "lease_until": NOW - timedelta(seconds=1)}, id="lease-expired"),
    ],
)
def test_a_job_due_now_or_whose_lease_expired_is_claimed(sessions, due):
    job_id = add_job(sessions, **due)

    assert claim(sessions, job_id) is not None
    assert read_job(sessions, job_id).lease_owner == "w1"


@pytest.mark.parametrize(
    "busy",
    [
        pytest.param({"next_due_at": NOW + timedelta(seconds=1)}, id="not-due-yet"),
        pytest.param({"lease_owner": "w0", "lease_until": NOW + timedelta(seconds=1)}, id="leased-elsewhere"),
        pytest.param({"lease_owner": "w0", "lease_until": NOW}, id="lease-ends-this-instant"),
        pytest.param({"state": "protected"}, id="finished"),
        pytest.param({"state": "failed"}, id="failed"),
    ],
)
def test_a_job_that_is_not_due_leased_elsewhere_or_finished_is_left_alone(sessions, busy):
    job_id = add_job(sessions, **busy)
    before = read_job(sessions, job_id)

    assert claim(sessions, job_id) is None

    after = read_job(sessions, job_id)
    assert (after.lease_owner, after.lease_until, after.version) == (
        before.lease_owner,
        before.lease_until,
        before.version,
    )


def test_claiming_one_job_leaves_the_others_free(sessions):
    mine = add_job(sessions, name="vm1")
    other = add_job(sessions, name="vm2")

    claim(sessions, mine)

    row = read_job(sessions, other)
    assert (row.lease_owner, row.lease_until, row.version) == (None, None, 1)
