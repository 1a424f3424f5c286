"""The way home through the HTTP API against the emulator: reprotect, drill, cleanup, unplanned failover with
the source shut down, commit, and reprotect back into the original direction, as jobs of their kinds on the
reprotect job's machinery."""

from __future__ import annotations

import uuid

from app.cloud.ids import parse_item_id
from app.cloud.snapshots import listing
from app.job import service as jobs
from app.job.states import JobState
from tests.drive import drive

DONE = ["accepted", "validating", "submitting", "reprotecting", "syncing", "protected"]
LOST_ANSWERS = {"rate": 1.0, "status": 503, "methods": ["POST"], "after": True}


def _subscription(demo) -> str:
    return demo["vault_id"].split("/resourceGroups/")[0]


def _vm_ref(demo, item) -> dict:
    return {"vault_id": demo["vault_id"], "vm_name": item["vm_name"]}


def _calls(emulator, item) -> dict:
    return emulator.get("/_emulator/stats").json()["calls_by_item"].get(item["name"], {})


def _fail_next_failover(emulator, item) -> None:
    """The VM's next UnplannedFailover ASR job fails at a task with 150097 (the emulator's fault)."""
    emulator.post(
        "/_emulator/faults/job-failure",
        json={"vm": item["vm_name"], "operation": "UnplannedFailover", "code": "150097", "times": 1},
    ).raise_for_status()


def _item_state(emulator, item) -> dict:
    vault = emulator.get("/_emulator/scenario").json()["subscriptions"][0]["vaults"][0]
    return next(i for i in vault["items"] if i["name"] == item["name"])


def _done(api, container, accepted) -> dict:
    assert accepted.status_code == 202, accepted.text
    job_id = accepted.json()["jobs"][0]["id"]
    drive(container)
    job = api.get(f"/jobs/{job_id}").json()
    assert job["state"] == "protected", job
    return job


def _reprotected(api, container, demo, item) -> dict:
    """The committed VM reprotected (Southeast Asia → East Asia) until protected."""
    job = _done(api, container, api.post("/reprotect", json={"vms": [{"item_id": item["id"]}]}))
    assert job["kind"] == "reprotect"
    return job


def _failed_over(api, container, demo, item) -> tuple[str, dict]:
    """The reprotected VM failed over home (its Southeast Asia copy shut down first)."""
    accepted = api.post("/failovers", json={"vms": [_vm_ref(demo, item)]})
    job = _done(api, container, accepted)
    return accepted.json()["request_id"], job


def test_a_reprotect_right_after_the_commit_is_accepted_though_the_list_snapshot_still_shows_it_uncommitted(
    api, container, emulator, demo
):
    """A vault list read while our commit ran still shows the failover uncommitted (Commit allowed); the intake
    confirms such a refusal with the item itself instead of refusing with failover_not_committed."""
    item = demo["committed"][0]
    _reprotected(api, container, demo, item)
    failover_request, _ = _failed_over(api, container, demo, item)
    snapshots = listing(container.cloud)
    snapshots.snapshots.ttl = 600.0  # type: ignore[attr-defined]  # the snapshot outlives the whole test
    assert api.post(f"/failovers/{failover_request}/commit").status_code == 202
    snapshots.snapshots.clear()  # type: ignore[attr-defined]
    stale = snapshots.get_item(parse_item_id(_item_id_now(emulator, demo, item)))  # kept 600 s, pre-commit
    assert stale is not None
    assert "Commit" in stale.allowed_operations
    drive(container)
    assert _item_state(emulator, item)["protection_state"] == "UnplannedFailoverCommitted"

    accepted = api.post("/reprotect", json={"vms": [_vm_ref(demo, item)]})  # intake: judged from the stale list
    assert accepted.status_code == 202, accepted.text
    job_id = uuid.UUID(accepted.json()["jobs"][0]["id"])
    for _ in range(3):  # accepted -> validating -> the worker's re-check, from the same stale list
        jobs.advance(container, job_id=job_id, worker="test-worker")
        if api.get(f"/jobs/{job_id}").json()["state"] not in ("accepted", "validating"):
            break
    assert api.get(f"/jobs/{job_id}").json()["state"] == "submitting"
    snapshots.snapshots.ttl = 0.5  # type: ignore[attr-defined]  # as the other tests: the ASR job lists move on
    drive(container)
    back = api.get(f"/jobs/{job_id}").json()
    assert (back["kind"], back["state"]) == ("reprotect_back", "protected")


def _item_id_now(emulator, demo, item) -> str:
    """The item's ARM id where it lives now (a reprotect moves it under the other region's container)."""
    state = _item_state(emulator, item)
    return (
        f"{demo['vault_id']}/replicationFabrics/{state['fabric']}/replicationProtectionContainers/"
        f"{state['container']}/replicationProtectedItems/{item['name']}"
    )


def test_the_whole_way_home_ends_protected_in_the_original_direction(api, container, emulator, demo):
    item = demo["committed"][0]
    original = _item_state(emulator, item)
    _reprotected(api, container, demo, item)
    reversed_ = _item_state(emulator, item)
    assert (reversed_["protection_state"], reversed_["active_location"]) == ("Protected", "Primary")
    assert reversed_["location"] != original["location"]  # the item lives under the region it runs in now

    drill = api.post("/drills", json={"vms": [_vm_ref(demo, item)], "test_network_id": demo["test_network"]})
    request_id = drill.json()["request_id"]
    assert _done(api, container, drill)["kind"] == "drill"
    assert _done(api, container, api.post(f"/drills/{request_id}/cleanup", json={"comments": "ok"}))["kind"] == (
        "drill_cleanup"
    )

    failover_request, failover = _failed_over(api, container, demo, item)
    assert failover["kind"] == "failover"
    assert [h["to_state"] for h in failover["history"]] == DONE
    assert [t["name"] for t in failover["asr_tasks"]][1] == "Shut down the virtual machine"
    pending = _item_state(emulator, item)
    assert (pending["protection_state"], pending["active_location"]) == (
        "UnplannedFailoverCommitPendingStatesBegin",
        "Recovery",
    )

    commit = _done(api, container, api.post(f"/failovers/{failover_request}/commit"))
    assert commit["kind"] == "commit"
    audited = [e for e in api.get("/audit").json()["items"] if e["path"].endswith("/commit")]
    assert [e["vm_ids"] for e in audited] == [[commit["item_id"]]]  # an irreversible act names its VMs
    assert _item_state(emulator, item)["protection_state"] == "UnplannedFailoverCommitted"

    back = _done(api, container, api.post("/reprotect", json={"vms": [_vm_ref(demo, item)]}))
    assert back["kind"] == "reprotect_back"
    assert api.get(f"/jobs/{back['id']}").json()["kind"] == "reprotect_back"
    home = _item_state(emulator, item)
    assert (home["protection_state"], home["active_location"]) == ("Protected", "Primary")
    assert (home["location"], home["fabric"], home["container"]) == (
        original["location"],
        original["fabric"],
        original["container"],
    )  # protected again from East Asia to Southeast Asia, under the original container
    calls = _calls(emulator, item)
    assert calls["ReplicationProtectedItems_UnplannedFailover"] == 1
    assert calls["ReplicationProtectedItems_FailoverCommit"] == 1
    assert calls["ReplicationProtectionContainers_SwitchProtection"] == 2  # away, and back
    kinds = [j["kind"] for j in api.get("/jobs").json()["items"]]
    assert sorted(kinds) == ["commit", "drill", "drill_cleanup", "failover", "reprotect", "reprotect_back"]
    for kind in kinds:  # each kind's filter finds that job alone
        assert [j["kind"] for j in api.get("/jobs", params={"kind": kind}).json()["items"]] == [kind]
    assert api.get("/jobs", params={"kind": "migrate"}).status_code == 422


def test_a_failover_of_a_vm_whose_allowed_operations_lack_it_is_refused_in_azures_words(api, container, demo):
    refused = api.post("/failovers", json={"vms": [{"item_id": demo["committed"][0]["id"]}]})
    assert refused.status_code == 422
    problem = refused.json()["vms"][0]
    assert problem["code"] == "failover_not_allowed"
    assert "allowedOperations are [CompleteMigration, DisableProtection, SwitchProtection]" in problem["message"]
    assert api.get("/jobs").json()["items"] == []


def test_a_failover_of_a_vm_already_home_is_refused_and_nothing_is_sent(api, container, emulator, demo):
    item = demo["protected"]  # protected East Asia -> Southeast Asia, running in East Asia: home
    refused = api.post("/failovers", json={"vms": [{"item_id": item["id"]}]})
    assert refused.status_code == 422, refused.text
    problem = refused.json()["vms"][0]
    assert problem["code"] == "already_home"
    assert "away from home" in problem["message"]
    assert "ReplicationProtectedItems_UnplannedFailover" not in _calls(emulator, item)
    assert api.get("/jobs").json()["items"] == []


def test_a_commit_leaves_out_a_vm_whose_failover_failed_and_commits_the_others(api, container, emulator, demo):
    ok, broken = demo["committed"][0], demo["committed"][1]
    for item in (ok, broken):
        _reprotected(api, container, demo, item)
    _fail_next_failover(emulator, broken)
    accepted = api.post("/failovers", json={"vms": [_vm_ref(demo, ok), _vm_ref(demo, broken)]})
    assert accepted.status_code == 202, accepted.text
    drive(container)
    states = {j["vm"]: j["state"] for j in api.get("/jobs", params={"kind": "failover"}).json()["items"]}
    assert states == {ok["vm_name"]: "protected", broken["vm_name"]: "failed"}

    commit = api.post(f"/failovers/{accepted.json()['request_id']}/commit")
    assert commit.status_code == 202, commit.text
    assert [j["vm"] for j in commit.json()["jobs"]] == [ok["vm_name"]]
    drive(container)
    assert _item_state(emulator, ok)["protection_state"] == "UnplannedFailoverCommitted"
    assert _item_state(emulator, broken)["protection_state"] == "Protected"  # untouched: retry, then commit


def test_a_commit_of_a_vm_not_failed_over_is_refused(api, container, emulator, demo):
    item = demo["committed"][0]
    _reprotected(api, container, demo, item)
    accepted = api.post("/failovers", json={"vms": [_vm_ref(demo, item)]})
    request_id = accepted.json()["request_id"]
    drive(container)
    assert api.post(f"/failovers/{request_id}/commit").status_code == 202
    drive(container)
    again = api.post(f"/failovers/{request_id}/commit")
    assert again.status_code == 422, again.text
    assert again.json()["vms"][0]["code"] == "commit_not_allowed"
    not_a_failover = api.post(f"/failovers/{uuid.UUID(api.get('/jobs').json()['items'][-1]['request_id'])}/commit")
    assert (not_a_failover.status_code, not_a_failover.json()["code"]) == (409, "not_a_failover")


def test_an_injected_failover_task_failure_fails_the_job_with_azures_code_and_retry_succeeds(
    api, container, emulator, demo
):
    item = demo["committed"][0]
    _reprotected(api, container, demo, item)
    _fail_next_failover(emulator, item)
    job_id = api.post("/failovers", json={"vms": [_vm_ref(demo, item)]}).json()["jobs"][0]["id"]
    drive(container)
    failed = api.get(f"/jobs/{job_id}").json()
    assert (failed["state"], failed["error"]["code"], failed["error"]["failed_in"]) == (
        "failed",
        "150097",
        "reprotecting",
    )
    assert _item_state(emulator, item)["protection_state"] == "Protected"  # back where the job found it

    assert api.post(f"/jobs/{job_id}/retry").status_code == 202
    drive(container)
    done = api.get(f"/jobs/{job_id}").json()
    assert (done["state"], done["attempt"]) == ("protected", 2)
    assert _calls(emulator, item)["ReplicationProtectedItems_UnplannedFailover"] == 2  # one per attempt
    assert _item_state(emulator, item)["protection_state"] == "UnplannedFailoverCommitPendingStatesBegin"


def test_a_lost_answer_to_the_failover_is_adopted_not_resubmitted(api, container, emulator, demo):
    item = demo["committed"][0]
    _reprotected(api, container, demo, item)
    emulator.put("/_emulator/faults/transient", json=LOST_ANSWERS).raise_for_status()
    job_id = api.post("/failovers", json={"vms": [_vm_ref(demo, item)]}).json()["jobs"][0]["id"]
    drive(container)
    job = api.get(f"/jobs/{job_id}").json()
    assert job["state"] == "protected"
    assert any(h["reason"].startswith("adopted") for h in job["history"])
    assert job["asr_job_id"]
    assert _calls(emulator, item)["ReplicationProtectedItems_UnplannedFailover"] == 1


def test_a_lost_answer_to_a_failover_that_fails_fast_fails_the_job_and_is_never_sent_twice(
    api, container, emulator, demo
):
    """The answer is lost and the ASR job fails before the worker looks: the item is idle and protected as
    before, yet the failover did reach Azure; the job fails with Azure's code instead of failing over again."""
    item = demo["committed"][0]
    _reprotected(api, container, demo, item)
    _fail_next_failover(emulator, item)
    emulator.put("/_emulator/faults/transient", json=LOST_ANSWERS).raise_for_status()
    job_id = api.post("/failovers", json={"vms": [_vm_ref(demo, item)]}).json()["jobs"][0]["id"]
    drive(container)
    job = api.get(f"/jobs/{job_id}").json()
    assert (job["state"], job["error"]["code"]) == ("failed", "150097"), job
    assert any(h["reason"].startswith("adopted the ASR job the unanswered") for h in job["history"])
    assert _calls(emulator, item)["ReplicationProtectedItems_UnplannedFailover"] == 1
    assert _item_state(emulator, item)["protection_state"] == "Protected"


def test_a_lost_answer_to_the_commit_is_adopted_not_resubmitted(api, container, emulator, demo):
    item = demo["committed"][0]
    _reprotected(api, container, demo, item)
    request_id, _ = _failed_over(api, container, demo, item)
    emulator.put("/_emulator/faults/transient", json=LOST_ANSWERS).raise_for_status()
    job_id = api.post(f"/failovers/{request_id}/commit").json()["jobs"][0]["id"]
    drive(container)
    job = api.get(f"/jobs/{job_id}").json()
    assert job["state"] == "protected"
    assert any(h["reason"].startswith("adopted") for h in job["history"])
    assert _calls(emulator, item)["ReplicationProtectedItems_FailoverCommit"] == 1


def test_a_failover_while_a_drill_runs_is_refused_per_vm(api, container, emulator, demo):
    item = demo["protected"]
    drill = api.post(
        "/drills",
        json={
            "vms": [{"item_id": item["id"]}],
            "test_network_id": f"{_subscription(demo)}/resourceGroups/contoso-net-rg-asr/providers/"
            "Microsoft.Network/virtualNetworks/contoso-vnet-sea-test",
        },
    )
    drill_job = uuid.UUID(drill.json()["jobs"][0]["id"])
    drive(container, until_state=JobState.REPROTECTING.value, job_id=drill_job)
    busy = api.post("/failovers", json={"vms": [{"item_id": item["id"]}]})
    assert busy.status_code == 409, busy.text
    refused = busy.json()["vms"]
    assert [v["code"] for v in refused] == ["vm_has_active_job"]
    assert f"Job {drill_job} (drill," in refused[0]["message"]
    assert [j["kind"] for j in api.get("/jobs").json()["items"]] == ["drill"]
