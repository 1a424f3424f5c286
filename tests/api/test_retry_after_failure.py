"""Cancel late in the job and retry after a failed ASR job, under each thing Azure may leave behind (the
emulator's leftovers modes): the service finds the item by name wherever it is, and retries by Restart
where the failed job offers it, else by a new switch protection, once."""

from __future__ import annotations

import uuid

from tests.drive import drive

LATE = {"task": "ProtectReplicaTask", "code": "151195", "at_fraction": 0.5}


def _calls(emulator, item) -> dict[str, int]:
    return emulator.get("/_emulator/stats").json()["calls_by_item"][item["name"]]


def _where(emulator, item) -> str:
    return emulator.get(f"/_emulator/items/{item['name']}").json()["id"]


def _fail_late(api, container, emulator, item, *, mode: str, restartable: bool = True, times: int = 1) -> str:
    emulator.put("/_emulator/faults/leftovers", json={"after_move": mode}).raise_for_status()
    failure = {**LATE, "vm": item["name"], "restartable": restartable, "times": times}
    emulator.post("/_emulator/faults/job-failure", json=failure).raise_for_status()
    job_id = api.post("/reprotect", json={"vms": [{"item_id": item["id"]}]}).json()["jobs"][0]["id"]
    drive(container)
    failed = api.get(f"/jobs/{job_id}").json()
    assert (failed["state"], failed["error"]["code"]) == ("failed", "151195")
    return job_id


def _cancel_late(api, container, emulator, item, *, mode: str) -> dict:
    emulator.put("/_emulator/faults/leftovers", json={"after_move": mode}).raise_for_status()
    emulator.put("/_emulator/time-scale", json={"time_scale": 1}).raise_for_status()
    job_id = api.post("/reprotect", json={"vms": [{"item_id": item["id"]}]}).json()["jobs"][0]["id"]
    drive(container, until_state="reprotecting", job_id=uuid.UUID(job_id))
    emulator.post("/_emulator/advance", json={"seconds": 900}).raise_for_status()  # the item has moved
    assert emulator.get(f"/_emulator/items/{item['name']}").json()["location"] == "southeastasia"
    answer = api.post(f"/jobs/{job_id}/cancel")
    assert answer.status_code == 202, answer.text
    drive(container)
    return api.get(f"/jobs/{job_id}").json()


def test_a_cancel_late_in_reprotecting_is_forwarded_and_the_moved_item_is_tracked(api, container, emulator, demo):
    item = demo["committed"][0]
    job = _cancel_late(api, container, emulator, item, mode="moved_disable")
    assert job["state"] == "cancelled"
    assert _calls(emulator, item)["ReplicationJobs_Cancel"] == 1
    assert job["new_item_id"].lower() == _where(emulator, item).lower() != item["id"].lower()


def test_a_cancel_late_that_azure_rolls_back_tracks_the_item_at_its_old_id(api, container, emulator, demo):
    item = demo["committed"][0]
    job = _cancel_late(api, container, emulator, item, mode="restore")
    assert job["state"] == "cancelled"
    assert job["new_item_id"].lower() == _where(emulator, item).lower() == item["id"].lower()


def test_retry_restarts_the_failed_asr_job_where_azure_offers_it(api, container, emulator, demo):
    item = demo["committed"][0]
    job_id = _fail_late(api, container, emulator, item, mode="moved_disable")
    failed = api.get(f"/jobs/{job_id}").json()
    assert failed["new_item_id"].lower() == _where(emulator, item).lower() != item["id"].lower()

    assert api.post(f"/jobs/{job_id}/retry").json()["state"] == "submitting"
    drive(container)
    done = api.get(f"/jobs/{job_id}").json()
    assert done["state"] == "protected"
    assert done["asr_job_id"] == failed["asr_job_id"]  # the same ASR job, restarted
    calls = _calls(emulator, item)
    assert calls["ReplicationJobs_Restart"] == 1
    assert calls["ReplicationProtectionContainers_SwitchProtection"] == 1


def test_retry_sends_a_new_switch_protection_to_the_new_container_when_restart_is_not_offered(
    api, container, emulator, demo
):
    item = demo["committed"][0]
    job_id = _fail_late(api, container, emulator, item, mode="moved_switch", restartable=False)
    api.post(f"/jobs/{job_id}/retry").raise_for_status()
    drive(container)
    done = api.get(f"/jobs/{job_id}").json()
    assert done["state"] == "protected"
    calls = _calls(emulator, item)
    assert calls.get("ReplicationJobs_Restart", 0) == 0
    assert calls["ReplicationProtectionContainers_SwitchProtection"] == 2
    bodies = emulator.get("/_emulator/stats").json()["switch_protection_bodies"][item["name"]]
    assert bodies[0] == bodies[1]  # the same reprotect, posted where the item lives now


def test_retry_is_refused_with_what_to_do_when_azure_offers_neither(api, container, emulator, demo):
    item = demo["committed"][0]
    job_id = _fail_late(api, container, emulator, item, mode="moved_disable", restartable=False)
    api.post(f"/jobs/{job_id}/retry").raise_for_status()
    drive(container)
    job = api.get(f"/jobs/{job_id}").json()
    assert (job["state"], job["error"]["code"]) == ("failed", "reprotect_retry_not_possible")
    assert "Disable replication" in job["error"]["message"]
    calls = _calls(emulator, item)
    assert calls.get("ReplicationJobs_Restart", 0) == 0
    assert calls["ReplicationProtectionContainers_SwitchProtection"] == 1


def test_a_restart_whose_answer_is_lost_is_recognised_not_sent_again(api, container, emulator, demo):
    item = demo["committed"][0]
    job_id = _fail_late(api, container, emulator, item, mode="restore")
    # Azure restarts the job but the answer never arrives: like a worker dying between send and record.
    emulator.put("/_emulator/faults/transient", json={"rate": 1.0, "methods": ["POST"], "after": True})
    api.post(f"/jobs/{job_id}/retry").raise_for_status()
    drive(container)
    done = api.get(f"/jobs/{job_id}").json()
    assert done["state"] == "protected"
    assert _calls(emulator, item)["ReplicationJobs_Restart"] == 1
    assert any("runs again" in h["reason"] for h in done["history"])


def test_a_restarted_job_that_fails_again_ends_the_retry_without_a_second_restart(api, container, emulator, demo):
    item = demo["committed"][0]
    job_id = _fail_late(api, container, emulator, item, mode="moved_disable", times=2)
    api.post(f"/jobs/{job_id}/retry").raise_for_status()
    drive(container)
    job = api.get(f"/jobs/{job_id}").json()
    assert (job["state"], job["error"]["code"], job["attempt"]) == ("failed", "151195", 2)
    assert _calls(emulator, item)["ReplicationJobs_Restart"] == 1
