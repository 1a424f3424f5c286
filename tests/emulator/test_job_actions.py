"""Job actions and planned job failures: cancel (while the job runs, as recorded), restart of a failed job, a task failing
with ASR code 151195 (seen in the job and by the SDK's poller), and a retry afterwards."""

from __future__ import annotations

import httpx
import pytest
from azure.core.exceptions import HttpResponseError

from tests.data import load
from tests.emulator.support import advance, asr_code, item_json, job_name_of, submit, switch_body


def test_cancel_is_allowed_in_the_first_tasks_and_returns_the_item_to_committed(client, demo, admin, emu_url):
    headers = submit(client, demo, switch_body(demo, item_json(client, demo, "web-01")))
    name = job_name_of(headers)
    job = client.replication_jobs.begin_cancel(demo.rg, demo.vault, name).result(timeout=10)
    assert job.properties.state == "Cancelled"
    assert job.properties.allowed_actions == []
    item = item_json(client, demo, "web-01")["properties"]
    assert item["protectionState"] == "UnplannedFailoverCommitted"
    assert "SwitchProtection" in item["allowedOperations"]
    assert item["currentScenario"]["scenarioName"] == "None"
    status = httpx.get(headers["Azure-AsyncOperation"], headers={"Authorization": "Bearer t"}).json()
    assert status["status"] == "Canceled"


def test_cancel_is_offered_late_in_reprotecting_as_recorded_and_refused_once_the_job_succeeded(client, demo, admin):
    recorded = load("a2a_reprotect_job_in_progress.json")["properties"]
    protect = next(t for t in recorded["tasks"] if t["taskId"] == "ProtectReplicaTask")
    assert (protect["state"], recorded["allowedActions"]) == ("InProgress", ["Cancel"])
    assert recorded["customDetails"]["newReplicationProtectedItemId"]

    name = job_name_of(submit(client, demo, switch_body(demo, item_json(client, demo, "web-01"))))
    advance(admin, 600)  # well into "Reprotecting virtual machine": the item has moved
    job = client.replication_jobs.get(demo.rg, demo.vault, name).properties
    task = next(t for t in job.tasks if t.task_id == "ProtectReplicaTask")
    assert task.state == "InProgress"
    assert job.custom_details.new_replication_protected_item_id
    assert job.allowed_actions == recorded["allowedActions"]

    advance(admin, 40000)
    assert client.replication_jobs.get(demo.rg, demo.vault, name).properties.state == "Succeeded"
    with pytest.raises(HttpResponseError) as caught:
        client.replication_jobs.begin_cancel(demo.rg, demo.vault, name, polling=False)
    assert (caught.value.status_code, caught.value.error.code, asr_code(caught.value)) == (400, "BadRequest", "28058")
    with pytest.raises(HttpResponseError):
        client.replication_jobs.begin_resume(demo.rg, demo.vault, name, {"properties": {}}, polling=False)


def test_a_planned_failure_shows_in_the_job_and_in_the_pollers_error_and_a_retry_succeeds(client, demo, admin):
    admin.post(
        "/_emulator/faults/job-failure",
        json={"vm": "app-01", "task": "ProtectReplicaTask", "code": "151195", "times": 1},
    ).raise_for_status()
    admin.put("/_emulator/time-scale", json={"time_scale": 50000}).raise_for_status()
    body = switch_body(demo, item_json(client, demo, "app-01"))
    with pytest.raises(HttpResponseError) as caught:
        client.replication_protection_containers.begin_switch_protection(
            demo.rg, demo.vault, demo.ea_fabric, demo.ea_container, body
        ).result(timeout=30)
    assert caught.value.error.code == "151195"
    assert "resolve" in caught.value.message
    job = next(iter(client.replication_jobs.list(demo.rg, demo.vault))).properties
    assert job.state == "Failed"
    failed = [t for t in job.tasks if t.state == "Failed"]
    assert [t.task_id for t in failed] == ["ProtectReplicaTask"]
    assert failed[0].errors[0].service_error_details.code == "151195"
    assert job.errors[0].service_error_details.recommended_action
    assert job.errors[0].error_level == "Error"
    assert item_json(client, demo, "app-01")["properties"]["protectionState"] == "UnplannedFailoverCommitted"

    client.replication_protection_containers.begin_switch_protection(
        demo.rg, demo.vault, demo.ea_fabric, demo.ea_container, body
    ).result(timeout=30)
    stats = admin.get("/_emulator/stats").json()
    assert stats["calls_by_item"]["app-01"]["ReplicationProtectionContainers_SwitchProtection"] == 2


def test_a_failed_job_can_be_restarted_and_then_succeeds(client, demo, admin):
    admin.post(
        "/_emulator/faults/job-failure",
        json={"vm": "*", "task": "SwitchReplicationGroupProtectionPreflightTask", "code": "150097"},
    ).raise_for_status()
    name = job_name_of(submit(client, demo, switch_body(demo, item_json(client, demo, "web-01"))))
    advance(admin, 30)
    failed = client.replication_jobs.get(demo.rg, demo.vault, name).properties
    assert failed.state == "Failed"
    assert failed.errors[0].service_error_details.code == "150097"
    assert "quota" in failed.errors[0].service_error_details.message
    restarted = client.replication_jobs.begin_restart(demo.rg, demo.vault, name).result(timeout=10)
    assert restarted.name == name
    assert restarted.properties.state in ("NotStarted", "InProgress")
    advance(admin, 40000)
    done = client.replication_jobs.get(demo.rg, demo.vault, name).properties
    assert done.state == "Succeeded"
    assert done.errors == []


def test_jobs_can_be_filtered_by_state_and_other_clauses_are_ignored(client, demo, admin):
    submit(client, demo, switch_body(demo, item_json(client, demo, "web-01")))
    submit(client, demo, switch_body(demo, item_json(client, demo, "hr-01")))
    advance(admin, 60)
    running = list(
        client.replication_jobs.list(
            demo.rg, demo.vault, filter="StartTime eq '2020-01-01T00:00:00Z' and JobStatus eq 'InProgress'"
        )
    )
    assert [j.properties.target_object_name for j in running] == ["web-01"]
    failed = list(client.replication_jobs.list(demo.rg, demo.vault, filter="State eq 'Failed'"))
    assert [j.properties.target_object_name for j in failed] == ["hr-01"]
    assert len(list(client.replication_jobs.list(demo.rg, demo.vault, filter="Whatever eq 'x'"))) == 2
