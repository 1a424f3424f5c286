"""Failures and refusals along the cycle, through the unmodified SDK: injected task failures per operation
(Azure's job error shape, the item put back, what stays in ARM), refused inputs, planned failover for A2A,
and recovery points around a failover."""

from __future__ import annotations

import pytest
from azure.core.exceptions import HttpResponseError
from azure.core.utils import case_insensitive_dict

from tests.emulator.cycle_support import (
    cleanup,
    commit,
    power_state,
    props,
    start_test_failover,
    unplanned_failover,
    vnet_id,
)
from tests.emulator.support import advance, arm_get, asr_code

PROTECTED = ["DisableProtection", "PlannedFailover", "TestFailover", "UnplannedFailover"]


def _inject(admin, **failure):
    admin.post("/_emulator/faults/job-failure", json=failure).raise_for_status()


def _job(client, demo, name):
    return client.replication_jobs.get(demo.rg, demo.vault, name).properties


def _sea_test_net(demo):
    return vnet_id(demo, "contoso-net-rg-asr", "contoso-vnet-sea-test")


def _vm(demo, group, name):
    return f"{demo.group_id(group)}/providers/Microsoft.Compute/virtualMachines/{name}"


def test_a_test_failover_failing_at_create_test_vm_leaves_no_test_vm_and_can_run_again(client, demo, admin):
    _inject(admin, vm="intranet-01", operation="TestFailover", task="CreateTestVmTask", code="150097")
    name = start_test_failover(client, demo, "intranet-01", east=True, network_id=_sea_test_net(demo), point=None)
    advance(admin, 600)
    job = _job(client, demo, name)
    assert (job.state, job.allowed_actions) == ("Failed", [])
    failed = next(t for t in job.tasks if t.state == "Failed")
    assert failed.friendly_name == "Create test virtual machine"
    assert failed.errors[0].service_error_details.code == "150097"
    assert "quota" in failed.errors[0].service_error_details.message
    item = props(client, demo, "intranet-01", east=True)
    assert (item["protectionState"], item["allowedOperations"]) == ("Protected", PROTECTED)
    assert (item["testFailoverState"], item["currentScenario"]["scenarioName"]) == ("None", "None")
    assert arm_get(client, _vm(demo, "contoso-web-rg-asr", "intranet-01-test")).status_code == 404
    again = start_test_failover(client, demo, "intranet-01", east=True, network_id=_sea_test_net(demo), point=None)
    advance(admin, 600)
    assert _job(client, demo, again).state == "Succeeded"


def test_a_failover_failing_part_way_leaves_the_source_shut_down_and_the_item_protected(client, demo, admin):
    _inject(admin, vm="intranet-01", operation="UnplannedFailover", task="StartFailoverTask", at_fraction=0.5)
    source = props(client, demo, "intranet-01", east=True)["providerSpecificDetails"]["fabricObjectId"]
    name = unplanned_failover(client, demo, "intranet-01", east=True)
    advance(admin, 900)
    job = _job(client, demo, name)
    assert job.state == "Failed"
    assert [t.state for t in job.tasks] == ["Succeeded", "Succeeded", "Succeeded", "Failed", "NotStarted"]
    assert job.errors[0].service_error_details.code == "28085"
    assert "Failover" in job.errors[0].service_error_details.message
    item = props(client, demo, "intranet-01", east=True)
    assert (item["protectionState"], item["activeLocation"]) == ("Protected", "Primary")
    assert "UnplannedFailover" in item["allowedOperations"]
    assert power_state(client, source) == "deallocated"  # Azure does not start it again (README)


def test_a_failover_creates_and_starts_the_vm_in_the_recovery_region(client, demo, admin):
    name = unplanned_failover(client, demo, "intranet-01", east=True)
    advance(admin, 900)
    assert _job(client, demo, name).state == "Succeeded"
    item = props(client, demo, "intranet-01", east=True)
    recovery_vm = item["providerSpecificDetails"]["recoveryFabricObjectId"]
    assert arm_get(client, recovery_vm).json()["location"] == "southeastasia"
    assert power_state(client, recovery_vm) == "running"
    assert power_state(client, item["providerSpecificDetails"]["fabricObjectId"]) == "deallocated"


def test_a_cleanup_failure_keeps_the_test_vm_and_cleanup_allowed(client, demo, admin):
    start_test_failover(client, demo, "intranet-01", east=True, network_id=_sea_test_net(demo), point=None)
    advance(admin, 600)
    test_vm = props(client, demo, "intranet-01", east=True)["providerSpecificDetails"][
        "testFailoverRecoveryFabricObjectId"
    ]
    _inject(admin, vm="intranet-01", operation="TestFailoverCleanup")
    name = cleanup(client, demo, "intranet-01", east=True, comments="first try")
    advance(admin, 300)
    assert _job(client, demo, name).state == "Failed"
    item = props(client, demo, "intranet-01", east=True)
    assert (item["testFailoverState"], item["allowedOperations"]) == ("WaitingForCompletion", ["TestFailoverCleanup"])
    assert power_state(client, test_vm) == "running"


def test_a_commit_failure_keeps_the_failover_uncommitted(client, demo, admin):
    _inject(admin, vm="batch-01", operation="CommitFailover", code="150020")
    name = commit(client, demo, "batch-01", east=True)
    advance(admin, 60)
    job = _job(client, demo, name)
    assert (job.state, job.friendly_name) == ("Failed", "Commit")
    item = props(client, demo, "batch-01", east=True)
    assert item["protectionState"] == "UnplannedFailoverCommitPendingStatesBegin"
    assert "Commit" in item["allowedOperations"]
    name = commit(client, demo, "batch-01", east=True)
    advance(admin, 60)
    assert props(client, demo, "batch-01", east=True)["protectionState"] == "UnplannedFailoverCommitted"


def test_planned_failover_is_refused_for_a2a(client, demo):
    body = {
        "properties": {"failoverDirection": "PrimaryToRecovery", "providerSpecificDetails": {"instanceType": "A2A"}}
    }
    with pytest.raises(HttpResponseError) as refused:
        client.replication_protected_items.begin_planned_failover(
            demo.rg, demo.vault, demo.ea_fabric, demo.ea_container, "intranet-01", body, polling=False
        )
    assert refused.value.status_code == 400
    assert asr_code(refused.value) == "28063"


@pytest.mark.parametrize(
    ("network", "code"),
    [
        (("contoso-net-rg", "contoso-vnet-ea-test"), "28061"),  # in the source region
        (("contoso-net-rg-asr", "no-such-vnet"), "28061"),
    ],
)
def test_a_test_network_missing_or_outside_the_recovery_region_is_refused(client, demo, network, code):
    with pytest.raises(HttpResponseError) as refused:
        start_test_failover(client, demo, "intranet-01", east=True, network_id=vnet_id(demo, *network), point=None)
    assert asr_code(refused.value) == code
    assert props(client, demo, "intranet-01", east=True)["allowedOperations"] == PROTECTED


def test_an_unknown_recovery_point_is_refused(client, demo):
    item_id = props(client, demo, "intranet-01", east=True)
    assert item_id["protectionState"] == "Protected"
    with pytest.raises(HttpResponseError) as refused:
        unplanned_failover(client, demo, "intranet-01", east=True, point="00000000-0000-0000-0000-000000000000")
    assert asr_code(refused.value) == "28062"


def test_recovery_points_stay_listed_until_the_failover_is_committed(client, demo, admin):
    def listed():
        return list(
            client.recovery_points.list_by_replication_protected_items(
                demo.rg, demo.vault, demo.ea_fabric, demo.ea_container, "intranet-01"
            )
        )

    before = listed()
    chosen = before[3]
    unplanned_failover(client, demo, "intranet-01", east=True, point=chosen.id)
    advance(admin, 900)
    item = props(client, demo, "intranet-01", east=True)
    assert item["failoverRecoveryPointId"].lower() == chosen.id.lower()
    assert listed()
    commit(client, demo, "intranet-01", east=True)
    advance(admin, 60)
    assert listed() == []


def test_a_job_failure_for_an_unknown_task_of_the_operation_is_refused_by_the_admin_api(admin):
    answer = admin.post(
        "/_emulator/faults/job-failure", json={"vm": "intranet-01", "operation": "TestFailover", "task": "Nope"}
    )
    assert answer.status_code == 400


def test_a_recovery_region_outage_fails_a_running_test_failover_with_150020(client, demo, admin):
    name = start_test_failover(client, demo, "intranet-01", east=True, network_id=_sea_test_net(demo), point=None)
    advance(admin, 30)
    admin.put("/_emulator/regions/southeastasia/outage", json={"down": True}).raise_for_status()
    advance(admin, 600)
    admin.put("/_emulator/regions/southeastasia/outage", json={"down": False}).raise_for_status()
    job = _job(client, demo, name)
    assert job.state == "Failed"
    assert job.errors[0].service_error_details.code == "150020"
    assert props(client, demo, "intranet-01", east=True)["allowedOperations"] == PROTECTED


def test_the_operation_status_of_a_failed_job_carries_the_task_error(client, demo, admin):
    _inject(admin, vm="batch-01", operation="CommitFailover", code="150020")
    headers = case_insensitive_dict()
    client.replication_protected_items.begin_failover_commit(
        demo.rg,
        demo.vault,
        demo.ea_fabric,
        demo.ea_container,
        "batch-01",
        polling=False,
        raw_response_hook=lambda response: headers.update(response.http_response.headers),
    )
    advance(admin, 60)
    status = arm_get(client, headers["Azure-AsyncOperation"].split("?", 1)[0]).json()
    assert status["status"] == "Failed"
    assert status["error"]["code"] == "150020"


def test_the_sdk_poller_follows_a_commit_to_the_committed_item(client, demo, admin):
    admin.put("/_emulator/time-scale", json={"time_scale": 60}).raise_for_status()
    poller = client.replication_protected_items.begin_failover_commit(
        demo.rg, demo.vault, demo.ea_fabric, demo.ea_container, "batch-01"
    )
    committed = poller.result(timeout=30)
    assert committed.properties.protection_state == "UnplannedFailoverCommitted"
    assert "SwitchProtection" in committed.properties.allowed_operations
