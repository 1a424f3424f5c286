"""A reprotect through the HTTP API with the real worker steps against the emulator, end to end."""

from __future__ import annotations

import time
import uuid
from concurrent.futures import ThreadPoolExecutor

from sqlalchemy import func, select

from app.bootstrap import bootstrap
from app.db import transaction
from app.job import service as jobs
from app.job.models import Job
from app.job.states import JobState
from tests.conftest import service_settings
from tests.drive import drive

HAPPY = ["accepted", "validating", "submitting", "reprotecting", "syncing", "protected"]


def _vm(item):
    return {"item_id": item["id"]}


def _job_count(container) -> int:
    with transaction(container.sessions) as session:
        return session.scalar(select(func.count()).select_from(Job))


def test_committed_vm_goes_all_the_way_to_protected(api, container, emulator, demo):
    item = demo["committed"][0]
    accepted = api.post("/reprotect", json={"vms": [_vm(item)]})
    assert accepted.status_code == 202, accepted.text
    assert accepted.headers["Location"] == f"/reprotect/{accepted.json()['request_id']}"
    assert int(accepted.headers["Retry-After"]) >= 1
    job_id = accepted.json()["jobs"][0]["id"]

    drive(container)

    job = api.get(f"/jobs/{job_id}").json()
    assert job["state"] == "protected"
    assert [h["to_state"] for h in job["history"]] == HAPPY
    assert job["resync_percent"] == 100
    assert job["new_item_id"]
    assert job["new_item_id"].lower() != item["id"].lower()
    names = [t["name"] for t in job["asr_tasks"]]
    assert names[0] == "Prerequisite check"
    assert any(n.startswith("Reprotecting virtual machine") for n in names)
    assert all(t["state"] in ("Succeeded", "Other") for t in job["asr_tasks"])
    assert job["asr_job_id"].lower().startswith(demo["vault_id"].lower() + "/replicationjobs/")
    assert [s["state"] for s in job["steps"]] == HAPPY
    stats = emulator.get("/_emulator/stats").json()
    assert stats["calls_by_item"][item["name"]]["ReplicationProtectionContainers_SwitchProtection"] == 1
    # Azure agrees: the new item is protected.
    assert any(
        i["name"] == item["name"] and i["protection_state"] == "Protected"
        for i in emulator.get("/_emulator/scenario").json()["subscriptions"][0]["vaults"][0]["items"]
    )


def test_vms_that_cannot_fail_back_are_refused_and_nothing_is_created(api, container, demo):
    vms = [
        _vm(demo["committed"][0]),
        _vm(demo["not_committed"]),
        _vm(demo["moved"]),
        _vm(demo["deleted"]),
        _vm(demo["protected"]),
    ]
    refused = api.post("/reprotect", json={"vms": vms})
    assert refused.status_code == 422
    assert refused.headers["content-type"] == "application/problem+json"
    body = refused.json()
    codes = {p["vm"]: p["code"] for p in body["vms"]}
    assert codes == {
        demo["not_committed"]["id"]: "failover_not_committed",
        demo["moved"]["id"]: "source_vm_moved",
        demo["deleted"]["id"]: "source_vm_deleted",
        demo["protected"]["id"]: "not_failed_over",
    }
    assert all(p["message"] for p in body["vms"])
    assert _job_count(container) == 0


def test_an_unavailable_target_region_is_refused(api, container, emulator, demo):
    item = demo["committed"][0]
    emulator.put("/_emulator/regions/eastasia/outage", json={"down": True}).raise_for_status()
    refused = api.post("/reprotect", json={"vms": [_vm(item)]})
    assert refused.status_code == 422
    assert refused.json()["vms"][0]["code"] in {"target_region_unavailable", "target_region_unreachable"}
    assert _job_count(container) == 0


def test_dry_run_returns_the_plan_with_new_markers_and_submits_nothing(api, container, emulator, demo):
    item = demo["committed"][0]
    answer = api.post("/reprotect", params={"dry_run": "true"}, json={"vms": [_vm(item)]})
    assert answer.status_code == 200, answer.text
    plan = answer.json()["plans"][0]
    assert (plan["direction"]["source"], plan["direction"]["target"]) == ("Southeast Asia", "East Asia")
    assert plan["network"]["status"] == "fixed"
    statuses = {plan["target_resource_group"]["status"], plan["cache_storage_account"]["status"]}
    assert statuses <= {"existing", "new"}
    assert plan["disks"]
    assert all(d["status"] in ("existing", "new") for d in plan["disks"])
    assert _job_count(container) == 0
    assert (
        emulator.get("/_emulator/stats").json()["calls"].get("ReplicationProtectionContainers_SwitchProtection", 0) == 0
    )


def test_a_new_cache_account_is_marked_new_and_then_created(api, container, emulator, demo):
    item = demo["committed"][0]
    plan = api.post("/reprotect", params={"dry_run": "true"}, json={"vms": [_vm(item)]}).json()["plans"][0]
    cache = plan["cache_storage_account"]
    # When this VM's group already has a cache account, name a fresh one instead.
    fresh = cache["id"].rsplit("/", 1)[0] + "/freshasrcache"
    cache_id = fresh if cache["status"] == "existing" else cache["id"]
    api.post("/reprotect", json={"vms": [{**_vm(item), "cache_storage_account_id": cache_id}]}).raise_for_status()
    drive(container)
    created = emulator.get("/_emulator/scenario")  # the account is now visible through ARM
    assert created.status_code == 200
    replan = api.post(
        "/reprotect",
        params={"dry_run": "true"},
        json={"vms": [{**_vm(demo["committed"][1]), "cache_storage_account_id": cache_id}]},
    )
    assert replan.json()["plans"][0]["cache_storage_account"]["status"] == "existing"


def test_customisation_reaches_the_switch_protection_call(api, container, emulator, demo):
    item = demo["committed"][0]
    original_group = emulator.get(f"/_emulator/items/{item['name']}").json()["source_vm_id"].split("/providers/")[0]
    vm = {
        **_vm(item),
        "target_resource_group_id": original_group,  # the original VM's group is still accepted
        "target_disk_type": "StandardSSD_LRS",
        "replica_disk_type": "Standard_LRS",
    }
    assert api.post("/reprotect", json={"vms": [vm]}).status_code == 202
    drive(container)
    bodies = emulator.get("/_emulator/stats").json()["switch_protection_bodies"][item["name"]]
    assert len(bodies) == 1
    details = bodies[0]["properties"]["providerSpecificDetails"]
    assert details["recoveryResourceGroupId"].lower() == original_group.lower()
    assert {d["recoveryResourceGroupId"].lower() for d in details["vmManagedDisks"]} == {original_group.lower()}
    assert {d["recoveryTargetDiskAccountType"] for d in details["vmManagedDisks"]} == {"StandardSSD_LRS"}
    assert {d["recoveryReplicaDiskAccountType"] for d in details["vmManagedDisks"]} == {"Standard_LRS"}


def test_another_target_resource_group_is_refused_before_anything_is_sent(api, container, emulator, demo):
    item = demo["committed"][0]
    sub = demo["vault_id"].split("/")[2]
    vm = {**_vm(item), "target_resource_group_id": f"/subscriptions/{sub}/resourceGroups/custom-target-rg"}
    refused = api.post("/reprotect", json={"vms": [vm]})
    assert refused.status_code == 422
    assert refused.json()["vms"][0]["code"] == "target_resource_group_not_changeable"
    assert _job_count(container) == 0
    assert item["name"] not in emulator.get("/_emulator/stats").json()["switch_protection_bodies"]


def test_network_customisation_is_refused(api, container, demo):
    vm = {
        **_vm(demo["committed"][0]),
        "target_network_id": "/subscriptions/x/resourceGroups/y/providers/Microsoft.Network/virtualNetworks/z",
    }
    refused = api.post("/reprotect", json={"vms": [vm]})
    assert refused.status_code == 422
    problem = refused.json()["vms"][0]
    assert problem["code"] == "network_not_changeable"
    assert "network mapping" in problem["message"]
    assert _job_count(container) == 0


def test_concurrent_requests_for_one_vm_make_one_job(api, container, demo):
    body = {"vms": [_vm(demo["committed"][0])]}
    with ThreadPoolExecutor(max_workers=6) as pool:
        answers = list(pool.map(lambda _: api.post("/reprotect", json=body), range(6)))
    statuses = sorted(a.status_code for a in answers)
    assert statuses.count(202) == 1, [a.text for a in answers]
    assert set(statuses) == {202, 409}
    winner = next(a for a in answers if a.status_code == 202).json()["jobs"][0]["id"]
    for conflict in (a.json() for a in answers if a.status_code == 409):
        # Whether the loser lost at the check or at the insert, it is told which job won.
        assert [v["code"] for v in conflict["vms"]] == ["vm_has_active_job"]
        assert winner in conflict["vms"][0]["message"]
    assert _job_count(container) == 1


def test_an_asr_job_failing_at_a_task_fails_ours_with_its_code_and_retry_succeeds(api, container, emulator, demo):
    item = demo["committed"][0]
    emulator.post(
        "/_emulator/faults/job-failure",
        json={"vm": item["name"], "task": "ProtectReplicaTask", "code": "151195", "times": 1},
    ).raise_for_status()
    job_id = api.post("/reprotect", json={"vms": [_vm(item)]}).json()["jobs"][0]["id"]
    drive(container)
    failed = api.get(f"/jobs/{job_id}").json()
    assert failed["state"] == "failed"
    assert failed["error"]["code"] == "151195"
    assert failed["error"]["failed_in"] == "reprotecting"

    retried = api.post(f"/jobs/{job_id}/retry")
    assert retried.status_code == 202
    drive(container)
    done = api.get(f"/jobs/{job_id}").json()
    assert done["state"] == "protected"
    assert done["attempt"] == 2
    assert [h["attempt"] for h in done["history"]].count(2) >= 3
    calls = emulator.get("/_emulator/stats").json()["calls_by_item"][item["name"]]
    # The failed ASR job offers Restart: the retry restarts it instead of sending a second switch protection.
    assert (calls["ReplicationJobs_Restart"], calls["ReplicationProtectionContainers_SwitchProtection"]) == (1, 1)


def test_throttling_delays_jobs_but_never_fails_them(api, container, emulator, demo):
    vms = [_vm(i) for i in demo["committed"]]
    accepted = api.post("/reprotect", json={"vms": vms})
    assert accepted.status_code == 202
    emulator.put(
        "/_emulator/throttle", json={"reads": {"burst": 20, "per_second": 5}, "writes": {"burst": 1, "per_second": 1}}
    ).raise_for_status()
    drive(container, timeout=120)
    states = {
        j["state"] for j in api.get("/jobs", params={"request_id": accepted.json()["request_id"]}).json()["items"]
    }
    assert states == {"protected"}
    assert emulator.get("/_emulator/stats").json()["throttled"] > 0


def test_cancel_before_submission_needs_no_azure_call(api, container, emulator, demo):
    job_id = api.post("/reprotect", json={"vms": [_vm(demo["committed"][0])]}).json()["jobs"][0]["id"]
    cancelled = api.post(f"/jobs/{job_id}/cancel")
    assert cancelled.status_code == 202
    assert cancelled.json()["state"] == "cancelled"
    drive(container)
    assert (
        emulator.get("/_emulator/stats").json()["calls"].get("ReplicationProtectionContainers_SwitchProtection", 0) == 0
    )
    assert api.post(f"/jobs/{job_id}/cancel").status_code == 409


def test_cancel_after_submission_cancels_the_asr_job(api, container, emulator, demo):
    emulator.put("/_emulator/time-scale", json={"time_scale": 1}).raise_for_status()  # stay in the early tasks
    job_id = api.post("/reprotect", json={"vms": [_vm(demo["committed"][0])]}).json()["jobs"][0]["id"]
    drive(container, until_state="reprotecting", job_id=__import__("uuid").UUID(job_id))
    answer = api.post(f"/jobs/{job_id}/cancel")
    assert answer.status_code == 202, answer.text
    drive(container)
    job = api.get(f"/jobs/{job_id}").json()
    assert job["state"] == "cancelled"
    assert job["history"][-1]["reason"] == "the ASR job was cancelled"


def test_cancel_is_refused_once_azure_no_longer_allows_it(api, container, emulator, demo):
    job_id = api.post("/reprotect", json={"vms": [_vm(demo["committed"][0])]}).json()["jobs"][0]["id"]
    drive(container)
    assert api.post(f"/jobs/{job_id}/cancel").json()["code"] == "job_terminal"


def test_workers_recheck_just_before_submitting(api, container, emulator, demo):
    item = demo["committed"][0]
    job_id = api.post("/reprotect", json={"vms": [_vm(item)]}).json()["jobs"][0]["id"]
    emulator.put("/_emulator/regions/eastasia/outage", json={"down": True}).raise_for_status()
    import time

    time.sleep(0.6)  # let the adapter's short cache of fabric health expire
    drive(container)
    job = api.get(f"/jobs/{job_id}").json()
    assert job["state"] == "failed"
    assert job["error"]["code"] in {"target_region_unavailable", "target_region_unreachable"}
    assert job["error"]["failed_in"] == "validating"
    assert (
        emulator.get("/_emulator/stats").json()["calls"].get("ReplicationProtectionContainers_SwitchProtection", 0) == 0
    )


def test_a_job_past_its_deadline_fails_and_retry_resumes_watching_the_same_asr_job(api, container, emulator, demo):
    import uuid
    from datetime import timedelta

    from app.db import utcnow

    item = demo["committed"][0]
    emulator.put("/_emulator/time-scale", json={"time_scale": 1}).raise_for_status()  # Azure works slowly
    job_id = uuid.UUID(api.post("/reprotect", json={"vms": [_vm(item)]}).json()["jobs"][0]["id"])
    drive(container, until_state="reprotecting", job_id=job_id)
    with transaction(container.sessions) as session:
        session.get(Job, job_id).deadline_at = utcnow() - timedelta(seconds=1)
    drive(container)
    failed = api.get(f"/jobs/{job_id}").json()
    assert (failed["state"], failed["error"]["code"]) == ("failed", "deadline_exceeded")

    emulator.put("/_emulator/time-scale", json={"time_scale": 20000}).raise_for_status()
    assert api.post(f"/jobs/{job_id}/retry").json()["state"] == "reprotecting"
    drive(container)
    done = api.get(f"/jobs/{job_id}").json()
    assert done["state"] == "protected"
    assert done["asr_job_id"] == failed["asr_job_id"]  # the same ASR job, not a second reprotect
    assert (
        emulator.get("/_emulator/stats").json()["calls_by_item"][item["name"]][
            "ReplicationProtectionContainers_SwitchProtection"
        ]
        == 1
    )


def test_a_lost_answer_to_switch_protection_is_adopted_not_resubmitted(api, container, emulator, demo):
    item = demo["committed"][0]
    # Azure processes every POST but the answer never arrives (a gateway 503 after the fact).
    emulator.put(
        "/_emulator/faults/transient", json={"rate": 1.0, "status": 503, "methods": ["POST"], "after": True}
    ).raise_for_status()
    job_id = api.post("/reprotect", json={"vms": [_vm(item)]}).json()["jobs"][0]["id"]
    drive(container)
    job = api.get(f"/jobs/{job_id}").json()
    assert job["state"] == "protected"
    # Depending on timing the worker finds the ASR job still running on the item, or the item already moved.
    reasons = [h["reason"] for h in job["history"]]
    assert any(r.startswith("adopted") or "submitted before" in r for r in reasons), reasons
    assert job["asr_job_id"]  # the adopted ASR job is known and its tasks mirrored
    assert job["asr_tasks"][0]["name"] == "Prerequisite check"
    assert (
        emulator.get("/_emulator/stats").json()["calls_by_item"][item["name"]][
            "ReplicationProtectionContainers_SwitchProtection"
        ]
        == 1
    )


def test_an_unanswered_switch_protection_is_waited_for_not_sent_again(api, container, emulator, demo, database_url):
    """Found by the fault suite: a read overtook a timed-out POST that Azure still processed afterwards."""
    item = demo["committed"][0]
    settings = service_settings(database_url, str(emulator.base_url))
    settings.azure.request_timeout_seconds = 1.0
    settings.job.switch_settle_seconds = 5.0
    impatient = bootstrap(settings)
    # An existing cache account: the first submitting step sends switch protection at once.
    cache = demo["vault_id"].split("/providers/")[0].replace("contoso-dr-rg", "contoso-db-rg-asr")
    vm = {
        **_vm(item),
        "cache_storage_account_id": f"{cache}/providers/Microsoft.Storage/storageAccounts/k3v9qpcontosodrvasrcache",
    }
    try:
        job_id = uuid.UUID(api.post("/reprotect", json={"vms": [vm]}).json()["jobs"][0]["id"])
        drive(impatient, until_state="submitting", job_id=job_id)
        # Azure holds the switch protection 2.5 s and then processes it; the worker gives up after 1 s.
        emulator.put("/_emulator/faults/latency", json={"ms": 2500, "methods": ["POST"]}).raise_for_status()
        step = jobs.advance(impatient, job_id=job_id, worker="w1")
        assert step.state == JobState.SUBMITTING  # timed out: the outcome is unknown
        emulator.delete("/_emulator/faults").raise_for_status()
        # The next reads arrive before the held POST lands, and see no reprotect on the item yet.
        drive(impatient)
    finally:
        impatient.close()
    job = api.get(f"/jobs/{job_id}").json()
    assert job["state"] == "protected"
    assert any(h["reason"].startswith("adopted") or "submitted before" in h["reason"] for h in job["history"])
    calls = emulator.get("/_emulator/stats").json()["calls_by_item"][item["name"]]
    assert calls["ReplicationProtectionContainers_SwitchProtection"] == 1


def test_a_throttled_switch_protection_is_sent_again_without_waiting(api, container, emulator, demo):
    """A 429 is never processed, so the settle wait for unanswered calls (180 s here) does not apply."""
    item = demo["committed"][0]
    emulator.put(
        "/_emulator/faults/transient", json={"rate": 1.0, "status": 429, "methods": ["POST"]}
    ).raise_for_status()
    job_id = uuid.UUID(api.post("/reprotect", json={"vms": [_vm(item)]}).json()["jobs"][0]["id"])
    drive(container, until_state="submitting", job_id=job_id)
    time.sleep(0.1)
    step = jobs.advance(container, job_id=job_id, worker="w1")
    assert step.ran
    assert step.state == JobState.SUBMITTING
    with transaction(container.sessions) as session:
        assert session.get(Job, job_id).switch_sent_at is None  # taken back: nothing can land later
    emulator.delete("/_emulator/faults").raise_for_status()
    drive(container, timeout=30)
    assert api.get(f"/jobs/{job_id}").json()["state"] == "protected"
