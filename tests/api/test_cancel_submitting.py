"""Cancel while submitting: 409 submission_in_progress (job unchanged) while a worker holds the job or Azure already runs an operation on the item; cancelled at once, with a history entry, when neither."""

from __future__ import annotations

import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

from sqlalchemy import update

from app.bootstrap import bootstrap
from app.db import transaction, utcnow
from app.job.models import Job
from tests.api.worker_support import PausingCloud, accept, make_due, released, row, step, switch_calls
from tests.conftest import service_settings
from tests.drive import drive


def _refused_unchanged(api, container, job_id: uuid.UUID) -> None:
    before = row(container, job_id)
    answer = api.post(f"/jobs/{job_id}/cancel")
    assert answer.status_code == 409, answer.text
    assert answer.headers["content-type"] == "application/problem+json"
    assert answer.json()["code"] == "submission_in_progress"
    assert row(container, job_id) == before  # state, version, lease, history: untouched


def test_cancel_is_refused_while_a_worker_holds_the_submitting_job(api, container, emulator, demo):
    item = demo["committed"][0]
    job_id = accept(api, item)
    drive(container, until_state="submitting", job_id=job_id)
    make_due(container, job_id)
    worker = PausingCloud(container.cloud, pause_after="get_item")
    with ThreadPoolExecutor(max_workers=1) as pool, released(worker):
        submitting = pool.submit(step, container, job_id, worker="A", cloud=worker)
        assert worker.paused.wait(30)  # the worker holds the lease and is about to send switch protection
        assert api.get(f"/jobs/{job_id}").json()["state"] == "submitting"

        _refused_unchanged(api, container, job_id)

        worker.go.set()
        done = submitting.result(timeout=30)
    assert done.state is not None
    assert done.state.value == "reprotecting"
    assert switch_calls(emulator, item) == 1


def test_cancel_is_refused_while_azure_already_runs_an_operation_on_the_item(api, container, emulator, demo):
    item = demo["committed"][0]
    job_id = accept(api, item)
    drive(container, until_state="submitting", job_id=job_id)
    emulator.put("/_emulator/time-scale", json={"time_scale": 1}).raise_for_status()  # the item stays put
    # Switch protection reaches Azure but its answer is lost: the job is still submitting, nobody holds it.
    emulator.put(
        "/_emulator/faults/transient", json={"rate": 1.0, "status": 503, "methods": ["POST"], "after": True}
    ).raise_for_status()
    make_due(container, job_id)
    step(container, job_id)
    emulator.delete("/_emulator/faults").raise_for_status()
    # Long enough ago that only Azure's own view of the item can tell (not the job's send mark).
    with transaction(container.sessions) as session:
        late = utcnow() - timedelta(seconds=container.settings.job.switch_settle_seconds + 1)
        session.execute(update(Job).where(Job.id == job_id).values(switch_sent_at=late))
    job = row(container, job_id)
    assert (job.state, job.lease_owner) == ("submitting", None)
    in_azure = emulator.get(f"/_emulator/items/{item['name']}").json()
    assert in_azure["current_job"]  # Azure shows the reprotect running on the item, under its id
    assert in_azure["id"].lower() == item["id"].lower()

    _refused_unchanged(api, container, job_id)

    emulator.put("/_emulator/time-scale", json={"time_scale": 20000}).raise_for_status()
    make_due(container, job_id)
    drive(container)
    assert row(container, job_id).state == "protected"  # the running reprotect was adopted
    assert switch_calls(emulator, item) == 1


def test_cancel_while_submitting_with_no_lease_and_nothing_in_azure_cancels_at_once(api, container, emulator, demo):
    item = demo["committed"][0]
    job_id = accept(api, item)
    drive(container, until_state="submitting", job_id=job_id)

    answer = api.post(f"/jobs/{job_id}/cancel")

    assert answer.status_code == 202, answer.text
    assert answer.json()["state"] == "cancelled"
    job = row(container, job_id)
    assert job.state == "cancelled"
    assert job.next_due_at is None
    assert job.history[-1][:2] == ("submitting", "cancelled")
    assert job.history[-1][2].startswith("key:")  # who asked
    assert job.history[-1][3] == "cancelled before submission"
    assert not step(container, job_id).ran  # no worker touches it again
    assert switch_calls(emulator, item) == 0
    assert api.get(f"/jobs/{job_id}").json()["history"][-1]["to_state"] == "cancelled"


def test_cancel_is_refused_while_an_unanswered_switch_protection_may_still_land(
    api, container, emulator, demo, database_url
):
    """Found by this safety net: cancel ignored the send mark, and the reprotect landing later ran unwatched."""
    item = demo["committed"][0]
    settings = service_settings(database_url, str(emulator.base_url))
    settings.azure.request_timeout_seconds = 1.0
    impatient = bootstrap(settings)
    try:
        job_id = accept(api, item)
        drive(impatient, until_state="submitting", job_id=job_id)
        # Azure holds the switch protection 5 s and then processes it; the worker gives up after 1 s.
        emulator.put("/_emulator/faults/latency", json={"ms": 5000, "methods": ["POST"]}).raise_for_status()
        make_due(impatient, job_id)
        timed_out = step(impatient, job_id, settings=settings.job)
    finally:
        impatient.close()
    assert timed_out.state is not None
    assert timed_out.state.value == "submitting"
    sent = row(container, job_id)
    assert sent.switch_sent_at is not None
    assert sent.lease_owner is None

    answer = api.post(f"/jobs/{job_id}/cancel")
    deadline = time.monotonic() + 15
    while switch_calls(emulator, item) == 0 and time.monotonic() < deadline:
        time.sleep(0.1)  # the held call lands in Azure
    emulator.delete("/_emulator/faults").raise_for_status()
    landed = emulator.get(f"/_emulator/items/{item['name']}").json()["current_job"]

    assert landed, "the held switch protection did land in Azure"
    assert answer.status_code == 409, (answer.status_code, answer.text, row(container, job_id).state)
    assert answer.json()["code"] == "submission_in_progress"
