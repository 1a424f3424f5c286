"""An Azure HTTP 500 while a job is validating, submitting or reprotecting never fails it: the worker retries and the job ends protected with one switch protection."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import update

from app.db import transaction, utcnow
from app.job.models import Job
from tests.api.worker_support import accept, make_due, row, step, switch_calls
from tests.drive import drive


@pytest.mark.parametrize("state", ["validating", "submitting", "reprotecting"])
def test_azure_500s_during_a_step_are_retried_and_the_job_ends_protected(api, container, emulator, demo, state):
    item = demo["committed"][0]
    job_id = accept(api, item)
    drive(container, until_state=state, job_id=job_id)
    emulator.put("/_emulator/faults/transient", json={"rate": 1.0, "status": 500}).raise_for_status()

    for failures in (1, 2, 3):
        make_due(container, job_id)
        container.cloud.snapshots.clear()  # the step reads Azure's lists again, not a shared answer
        done = step(container, job_id)
        assert done.ran
        assert done.state is not None
        assert done.state.value == state
        job = row(container, job_id)
        assert (job.state, job.error_code, job.transient_failures) == (state, None, failures)
        assert job.lease_owner is None
        assert job.history[-1][1] == state  # no transition was recorded for the failed step

    emulator.delete("/_emulator/faults").raise_for_status()
    make_due(container, job_id)
    drive(container)
    done = row(container, job_id)
    assert done.state == "protected"
    assert done.transient_failures == 0
    assert switch_calls(emulator, item) == 1
    assert emulator.get("/_emulator/stats").json()["statuses"]["500"] >= 3


def test_a_500_answer_to_switch_protection_itself_is_retried_once_it_cannot_land_any_more(
    api, container, emulator, demo
):
    item = demo["committed"][0]
    job_id = accept(api, item)
    drive(container, until_state="submitting", job_id=job_id)
    emulator.put(
        "/_emulator/faults/transient", json={"rate": 1.0, "status": 500, "methods": ["POST"]}
    ).raise_for_status()
    make_due(container, job_id)
    step(container, job_id)
    job = row(container, job_id)
    assert (job.state, job.error_code, job.transient_failures) == ("submitting", None, 1)
    assert job.switch_sent_at is not None  # the call left: it is waited for, not sent again at once

    emulator.delete("/_emulator/faults").raise_for_status()
    make_due(container, job_id)
    step(container, job_id)
    assert row(container, job_id).state == "submitting"
    assert switch_calls(emulator, item) == 0  # still within the settle time: nothing sent again

    # The settle time passes: the unanswered call is presumed lost and switch protection goes out again.
    with transaction(container.sessions) as session:
        late = utcnow() - timedelta(seconds=container.settings.job.switch_settle_seconds + 1)
        session.execute(update(Job).where(Job.id == job_id).values(switch_sent_at=late))
    make_due(container, job_id)
    drive(container)
    assert row(container, job_id).state == "protected"
    assert switch_calls(emulator, item) == 1
