"""The job event stream (``GET /events/jobs``) through a real uvicorn process: a reprotect's transitions
in order, filters, scopes, heartbeats, resuming with ``Last-Event-ID`` across an API restart, refusals."""

from __future__ import annotations

import dataclasses
import uuid

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from app.api.app import create_app
from app.db import transaction
from app.job.models import JobTransition
from app.settings import EventSettings
from tests.api.conftest import make_key
from tests.api.event_stream_support import Stream, api_process
from tests.api.worker_support import accept
from tests.drive import drive

HAPPY = ["accepted", "validating", "submitting", "reprotecting", "syncing", "protected"]
OTHER_VAULT = "/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/elsewhere/providers/Microsoft.RecoveryServices/vaults/other"


@pytest.fixture
def server(container, database_url, emulator, tmp_path):
    with api_process(database_url, str(emulator.base_url), tmp_path / "api.log") as process:
        yield process


def _protected(job_id):
    return lambda e: e.data["job_id"] == str(job_id) and e.data["state"] == "protected"


def _transition_ids(container, after: int) -> list[int]:
    with transaction(container.sessions) as session:
        return list(
            session.scalars(select(JobTransition.id).where(JobTransition.id > after).order_by(JobTransition.id))
        )


def test_a_reader_sees_a_reprotect_in_order_and_nothing_outside_its_scopes(api, container, demo, server):
    dashboard = api.post("/api-keys", json={"name": "dashboard", "role": "reader", "scopes": [demo["vault_id"]]})
    assert dashboard.status_code == 201, dashboard.text
    stream = Stream(server.url, dashboard.json()["key"])
    assert stream.status == 200
    assert stream.content_type.startswith("text/event-stream")
    outsider_key = make_key(container, role="admin", scopes=(OTHER_VAULT,))
    outsider = Stream(server.url, outsider_key)
    item = demo["committed"][0]
    job_id = accept(api, item)
    drive(container)

    events = stream.job_events_until(_protected(job_id))
    assert [e.kind for e in events] == ["job"] * len(HAPPY)
    assert [e.data["state"] for e in events] == HAPPY
    assert [e.data["from_state"] for e in events] == [None, *HAPPY[:-1]]
    assert {e.data["job_id"] for e in events} == {str(job_id)}
    assert [e.id for e in events] == [e.data["event_id"] for e in events] == _transition_ids(container, 0)
    assert events[-1].data["vm_name"] == item["name"]
    assert events[-1].data["resync_percent"] == 100
    # A heartbeat naming the last event says everything up to it went out: the outsider got none, live...
    outsider.quiet_until(events[-1].id)
    # ... or replayed from the start of the log.
    replayed = Stream(server.url, outsider_key, last_event_id=0)
    replayed.quiet_until(events[-1].id)
    # A revoked key's stream ends at its next check.
    assert api.delete(f"/api-keys/{dashboard.json()['id']}").status_code == 204
    ending = stream.next_event()
    assert ending is not None
    assert (ending.kind, ending.data) == ("resume", {"reason": "credentials_changed", "last_event_id": events[-1].id})
    assert stream.next_event() is None
    for each in (stream, outsider, replayed):
        each.close()


def test_filters_pick_the_jobs_like_the_job_list(api, container, demo, server):
    key = make_key(container, role="reader")
    first, second = demo["committed"][:2]
    by_vm = Stream(server.url, key, params={"vm": first["name"].upper()})
    by_state = Stream(server.url, key, params={"state": "protected", "vault_id": demo["vault_id"].upper()})
    elsewhere = Stream(server.url, key, params={"subscription_id": "00000000-0000-0000-0000-000000000000"})
    first_job = accept(api, first)
    second_answer = api.post("/reprotect", json={"vms": [{"item_id": second["id"]}]})
    second_job = uuid.UUID(second_answer.json()["jobs"][0]["id"])
    by_request = Stream(server.url, key, params={"request_id": second_answer.json()["request_id"]}, last_event_id=0)
    drive(container)

    finals = [by_state.next_event(), by_state.next_event()]
    assert [e.data["state"] for e in finals if e] == ["protected", "protected"]
    assert {e.data["job_id"] for e in finals if e} == {str(first_job), str(second_job)}

    mine = by_vm.job_events_until(_protected(first_job))
    assert {e.data["job_id"] for e in mine} == {str(first_job)}
    assert [e.data["state"] for e in mine] == HAPPY
    theirs = by_request.job_events_until(_protected(second_job))
    assert {e.data["job_id"] for e in theirs} == {str(second_job)}
    assert [e.data["state"] for e in theirs] == HAPPY
    # Up to the last transition, nothing else came.
    last = _transition_ids(container, 0)[-1]
    for stream in (by_vm, by_state, by_request, elsewhere):
        stream.quiet_until(last)
        stream.close()


def test_a_stream_resumes_after_an_api_restart_with_exactly_the_missed_events(
    api, container, demo, database_url, emulator, tmp_path
):
    key = make_key(container, role="reader")
    first, second = demo["committed"][:2]
    with api_process(database_url, str(emulator.base_url), tmp_path / "one.log") as one:
        stream = Stream(one.url, key)
        first_job = accept(api, first)
        drive(container)
        seen = stream.job_events_until(_protected(first_job))
        one.stop()  # SIGTERM with the stream open: the server ends it and exits
        ending = stream.next_event()
        assert ending is not None
        assert ending.kind == "resume"
        assert ending.data == {"reason": "server_shutting_down", "last_event_id": seen[-1].id}
        assert stream.next_event() is None
        stream.close()

    # The client kept only the first two events; a second job runs while no API process is up.
    kept = seen[1].id
    second_job = accept(api, second)
    drive(container)
    missed = _transition_ids(container, kept)
    assert len(missed) == len(HAPPY) - 2 + len(HAPPY)

    with api_process(database_url, str(emulator.base_url), tmp_path / "two.log") as two:
        by_header = Stream(two.url, key, last_event_id=kept)
        by_query = Stream(two.url, key, params={"last_event_id": kept})
        for resumed in (by_header, by_query):
            events = resumed.job_events_until(_protected(second_job))
            assert [e.id for e in events] == missed
            assert [e.data["state"] for e in events] == HAPPY[2:] + HAPPY
            resumed.quiet_until(missed[-1])
            resumed.close()


def test_bad_resume_points_and_filters_are_problems(api, container, demo, bare_with):
    accept(api, demo["committed"][0])
    drive(container)
    latest = _transition_ids(container, 0)[-1]
    headers = {"Authorization": f"Bearer {make_key(container, role='reader')}"}

    assert bare_with.get("/events/jobs").status_code == 401
    for header, code in (("abc", "invalid_last_event_id"), ("-3", "invalid_last_event_id"),
                         (str(latest + 1), "last_event_id_unknown")):  # fmt: skip
        answer = bare_with.get("/events/jobs", headers={**headers, "Last-Event-ID": header})
        assert answer.status_code == 422, answer.text
        assert answer.headers["content-type"].startswith("application/problem+json")
        assert answer.json()["code"] == code
    for params in ({"last_event_id": "-1"}, {"state": "bogus"}, {"request_id": "x"}, {"created_after": "soon"}):
        answer = bare_with.get("/events/jobs", headers=headers, params=params)
        assert answer.status_code == 422, answer.text
        assert answer.json()["code"] == "validation_failed"

    shallow = dataclasses.replace(
        container, settings=container.settings.model_copy(update={"events": EventSettings(max_replay_events=2)})
    )
    with TestClient(create_app(shallow), headers=headers) as client:
        answer = client.get("/events/jobs", headers={"Last-Event-ID": str(latest - 3)})
    assert answer.status_code == 422
    assert answer.json()["code"] == "last_event_id_too_old"
    assert answer.json()["details"]["latest_event_id"] == latest
