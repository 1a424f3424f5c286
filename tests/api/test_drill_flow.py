"""Drills through the HTTP API against the emulator: a test failover of a protected VM into an isolated
network and its cleanup, as jobs of kind ``drill`` / ``drill_cleanup`` on the reprotect job's machinery."""

from __future__ import annotations

import uuid

from app.cloud.ids import parse_item_id
from app.cloud.snapshots import listing
from app.events.log import read_after
from app.job.models import Job
from app.job.states import JobState
from app.webhook.events import job_data
from tests.drive import drive

DONE = ["accepted", "validating", "submitting", "reprotecting", "syncing", "protected"]


def _test_network(demo) -> str:
    subscription = demo["vault_id"].split("/resourceGroups/")[0]
    network = "contoso-net-rg-asr/providers/Microsoft.Network/virtualNetworks/contoso-vnet-sea-test"
    return f"{subscription}/resourceGroups/{network}"


def _test_vm(demo, item) -> str:
    subscription = demo["vault_id"].split("/resourceGroups/")[0]
    vm = f"contoso-web-rg-asr/providers/Microsoft.Compute/virtualMachines/{item['name']}-test"
    return f"{subscription}/resourceGroups/{vm}"


def _drill(api, demo, item, **extra):
    return api.post("/drills", json={"vms": [{"item_id": item["id"]}], "test_network_id": _test_network(demo), **extra})


def _calls(emulator, item) -> dict:
    return emulator.get("/_emulator/stats").json()["calls_by_item"].get(item["name"], {})


def _item_state(emulator, item) -> dict:
    vault = emulator.get("/_emulator/scenario").json()["subscriptions"][0]["vaults"][0]
    return next(i for i in vault["items"] if i["name"] == item["name"])


def test_a_drill_brings_the_test_vm_up_and_its_cleanup_removes_it(api, container, emulator, demo):
    item = demo["protected"]
    accepted = _drill(api, demo, item, recovery_point="latest_app_consistent")
    assert accepted.status_code == 202, accepted.text
    assert accepted.json()["jobs"][0]["kind"] == "drill"
    request_id = accepted.json()["request_id"]
    job_id = accepted.json()["jobs"][0]["id"]

    drive(container)

    job = api.get(f"/jobs/{job_id}").json()
    assert (job["kind"], job["state"]) == ("drill", "protected")
    assert [h["to_state"] for h in job["history"]] == DONE
    assert job["asr_tasks"][1]["name"] == "Create test virtual machine"
    assert _item_state(emulator, item)["test_failover_state"] == "WaitingForCompletion"
    test_vm = container.cloud.get_vm(_test_vm(demo, item))  # the test VM, read through ARM
    assert test_vm is not None
    listed = api.get("/jobs", params={"request_id": request_id}).json()["items"]
    assert [j["kind"] for j in listed] == ["drill"]
    assert _calls(emulator, item)["ReplicationProtectedItems_TestFailover"] == 1
    with container.sessions() as session:  # the stream's events and the webhooks' job data say what it was
        events = [e for e in read_after(session, 0, limit=1000) if str(e.job_id) == job_id]
        assert {e.data()["kind"] for e in events} == {"drill"}
        assert job_data(session.get(Job, uuid.UUID(job_id)), previous_state=None)["kind"] == "drill"

    cleanup = api.post(f"/drills/{request_id}/cleanup", json={"comments": "drill ok: intranet answered"})
    assert cleanup.status_code == 202, cleanup.text
    cleanup_id = cleanup.json()["jobs"][0]["id"]
    drive(container)

    cleaned = api.get(f"/jobs/{cleanup_id}").json()
    assert (cleaned["kind"], cleaned["state"]) == ("drill_cleanup", "protected")
    assert _item_state(emulator, item)["test_failover_state"] == "None"
    assert container.cloud.get_vm(_test_vm(demo, item)) is None
    assert _calls(emulator, item)["ReplicationProtectedItems_TestFailoverCleanup"] == 1


def test_a_vm_whose_allowed_operations_lack_test_failover_is_refused_with_azures_wording(api, container, demo):
    refused = _drill(api, demo, demo["committed"][0])
    assert refused.status_code == 422
    problem = refused.json()["vms"][0]
    assert problem["code"] == "test_failover_not_allowed"
    assert "allowedOperations are [CompleteMigration, DisableProtection, SwitchProtection]" in problem["message"]
    assert api.get("/jobs").json()["items"] == []


def test_a_cleanup_without_a_test_failover_is_refused(api, container, demo):
    accepted = _drill(api, demo, demo["protected"])
    request_id = accepted.json()["request_id"]
    drive(container)
    first = api.post(f"/drills/{request_id}/cleanup", json={})
    assert first.status_code == 202, first.text
    drive(container)
    again = api.post(f"/drills/{request_id}/cleanup", json={})
    assert again.status_code == 422
    assert again.json()["vms"][0]["code"] == "test_failover_cleanup_not_allowed"


def test_a_second_cleanup_is_refused_even_when_the_list_snapshot_still_shows_the_test_failover(api, container, demo):
    """A list snapshot read while the first cleanup ran still shows TestFailoverCleanup allowed; the intake
    reads the item itself for a VM one of our jobs moved since, and refuses in Azure's words."""
    item = demo["protected"]
    snapshots = listing(container.cloud)
    snapshots.snapshots.ttl = 600.0  # type: ignore[attr-defined]  # the snapshot outlives the whole test
    request_id = _drill(api, demo, item).json()["request_id"]
    drive(container)
    assert api.post(f"/drills/{request_id}/cleanup", json={}).status_code == 202
    snapshots.snapshots.clear()  # type: ignore[attr-defined]
    stale = snapshots.get_item(parse_item_id(item["id"]))  # read before the cleanup runs, kept 600 s
    assert stale is not None
    assert "TestFailoverCleanup" in stale.allowed_operations
    drive(container)
    again = api.post(f"/drills/{request_id}/cleanup", json={})
    assert again.status_code == 422, again.text
    assert again.json()["vms"][0]["code"] == "test_failover_cleanup_not_allowed"


def test_an_injected_task_failure_fails_the_drill_with_azures_code_and_retry_succeeds(api, container, emulator, demo):
    item = demo["protected"]
    emulator.post(
        "/_emulator/faults/job-failure",
        json={"vm": item["name"], "operation": "TestFailover", "code": "150097", "times": 1},
    ).raise_for_status()
    job_id = _drill(api, demo, item).json()["jobs"][0]["id"]
    drive(container)
    failed = api.get(f"/jobs/{job_id}").json()
    assert failed["state"] == "failed"
    assert failed["error"]["code"] == "150097"
    assert failed["error"]["failed_in"] == "reprotecting"

    assert api.post(f"/jobs/{job_id}/retry").status_code == 202
    drive(container)
    done = api.get(f"/jobs/{job_id}").json()
    assert (done["state"], done["attempt"]) == ("protected", 2)
    assert _calls(emulator, item)["ReplicationProtectedItems_TestFailover"] == 2  # one per attempt
    assert container.cloud.get_vm(_test_vm(demo, item)) is not None


def test_a_lost_answer_to_the_test_failover_is_adopted_not_resubmitted(api, container, emulator, demo):
    item = demo["protected"]
    # Azure processes every POST but the answer never arrives (a gateway 503 after the fact).
    emulator.put(
        "/_emulator/faults/transient", json={"rate": 1.0, "status": 503, "methods": ["POST"], "after": True}
    ).raise_for_status()
    job_id = _drill(api, demo, item).json()["jobs"][0]["id"]
    drive(container)
    job = api.get(f"/jobs/{job_id}").json()
    assert job["state"] == "protected"
    assert any(h["reason"].startswith("adopted") for h in job["history"])
    assert job["asr_job_id"]
    assert _calls(emulator, item)["ReplicationProtectedItems_TestFailover"] == 1


def test_a_lost_answer_to_the_cleanup_is_adopted_not_resubmitted(api, container, emulator, demo):
    item = demo["protected"]
    request_id = _drill(api, demo, item).json()["request_id"]
    drive(container)
    emulator.put(
        "/_emulator/faults/transient", json={"rate": 1.0, "status": 503, "methods": ["POST"], "after": True}
    ).raise_for_status()
    job_id = api.post(f"/drills/{request_id}/cleanup", json={}).json()["jobs"][0]["id"]
    drive(container)
    job = api.get(f"/jobs/{job_id}").json()
    assert job["state"] == "protected"
    assert any(h["reason"].startswith("adopted") for h in job["history"])
    assert _calls(emulator, item)["ReplicationProtectedItems_TestFailoverCleanup"] == 1


def test_one_active_job_per_vm_across_kinds(api, container, emulator, demo):
    item = demo["protected"]
    drill_job = uuid.UUID(_drill(api, demo, item).json()["jobs"][0]["id"])
    drive(container, until_state=JobState.REPROTECTING.value, job_id=drill_job)
    again = _drill(api, demo, item)
    assert again.status_code == 409
    assert [v["code"] for v in again.json()["vms"]] == ["vm_has_active_job"]
    assert str(drill_job) in again.json()["vms"][0]["message"]


def test_a_drill_while_a_reprotect_runs_is_refused_per_vm(api, container, emulator, demo):
    committed = demo["committed"][0]
    reprotect = api.post("/reprotect", json={"vms": [{"item_id": committed["id"]}]}).json()["jobs"][0]["id"]
    busy = api.post(
        "/drills",
        json={
            "vms": [{"item_id": committed["id"]}, {"item_id": demo["protected"]["id"]}],
            "test_network_id": _test_network(demo),
        },
    )
    assert busy.status_code == 409
    refused = busy.json()["vms"]
    assert [(v["vm"], v["code"]) for v in refused] == [(committed["id"], "vm_has_active_job")]
    assert reprotect in refused[0]["message"]
    assert [j["kind"] for j in api.get("/jobs").json()["items"]] == ["reprotect"]  # nothing else was created
