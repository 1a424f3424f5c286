"""The send mark: written before switch protection leaves, only while the job is still this worker's to submit."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest

from app.db import transaction
from app.job import runner
from app.job.runner import LeaseLost
from tests.unit.job_rows import NOW, add_job, empty_database, read_job

HELD = {"state": "submitting", "lease_owner": "w1", "lease_until": NOW + timedelta(seconds=60)}


@pytest.fixture
def sessions(database_url):
    with empty_database(database_url) as sessions:
        yield sessions


def mark(sessions, job_id, *, sent, worker="w1"):
    with transaction(sessions) as session:
        runner.mark_sent(session, job_id=job_id, worker=worker, now=NOW, sent=sent)


def test_the_send_is_marked_at_the_time_it_leaves(sessions):
    job_id = add_job(sessions, **HELD)

    mark(sessions, job_id, sent=True)

    assert read_job(sessions, job_id).switch_sent_at == NOW


def test_a_send_azure_refused_for_certain_is_taken_back(sessions):
    job_id = add_job(sessions, **HELD, switch_sent_at=NOW - timedelta(seconds=2))

    mark(sessions, job_id, sent=False)

    assert read_job(sessions, job_id).switch_sent_at is None


def test_marking_one_job_leaves_the_others_unmarked(sessions):
    mine = add_job(sessions, name="vm1", **HELD)
    other = add_job(sessions, name="vm2", **HELD)

    mark(sessions, mine, sent=True)

    assert read_job(sessions, other).switch_sent_at is None


@pytest.mark.parametrize(
    "lost",
    [
        pytest.param({"lease_owner": "w2"}, id="lease-taken-over"),
        pytest.param({"lease_until": NOW}, id="lease-ended"),
        pytest.param({"state": "cancelled"}, id="cancelled-meanwhile"),
        pytest.param({"state": "reprotecting"}, id="no-longer-submitting"),
    ],
)
def test_a_job_no_longer_ours_to_submit_is_not_marked_and_the_send_is_called_off(sessions, lost):
    job_id = add_job(sessions, **{**HELD, **lost})

    message = f"job {job_id} is no longer w1's to submit"
    with pytest.raises(LeaseLost, match=f"^{re.escape(message)}$"):
        mark(sessions, job_id, sent=True)

    assert read_job(sessions, job_id).switch_sent_at is None
