"""What ASR refuses up front (400/404/409 with ASR error bodies) and what fails the job at the
prerequisite check (source VM moved or deleted, target region down)."""

from __future__ import annotations

import copy

import pytest
from azure.core.exceptions import HttpResponseError, ResourceExistsError, ResourceNotFoundError

from tests.emulator.support import advance, arm_get, asr_code, item_json, job_name_of, submit, switch_body


def _refused(client, demo, body, *, fabric=None, container=None) -> HttpResponseError:
    with pytest.raises(HttpResponseError) as caught:
        client.replication_protection_containers.begin_switch_protection(
            demo.rg, demo.vault, fabric or demo.ea_fabric, container or demo.ea_container, body, polling=False
        )
    return caught.value


def test_an_uncommitted_failover_is_refused_with_400(client, demo):
    error = _refused(client, demo, switch_body(demo, item_json(client, demo, "batch-01")))
    assert (error.status_code, error.error.code, asr_code(error)) == (400, "BadRequest", "28053")
    assert "Failover completed" in error.message
    (detail,) = error.response.json()["error"]["details"]
    assert detail["possibleCauses"]
    assert detail["recommendedAction"]


def test_a_second_reprotect_while_one_runs_is_a_409_conflict(client, demo):
    body = switch_body(demo, item_json(client, demo, "web-01"))
    submit(client, demo, body)
    error = _refused(client, demo, body)
    assert isinstance(error, ResourceExistsError)
    assert (error.error.code, asr_code(error)) == ("Conflict", "28054")


def test_the_wrong_container_or_recovery_container_is_a_400(client, demo):
    body = switch_body(demo, item_json(client, demo, "app-01"))
    elsewhere = _refused(client, demo, body, fabric=demo.sea_fabric, container=demo.sea_container)
    assert (elsewhere.status_code, asr_code(elsewhere)) == (400, "28055")
    wrong_target = copy.deepcopy(body)
    wrong_target["properties"]["providerSpecificDetails"]["recoveryContainerId"] = demo.sea_container_id
    assert asr_code(_refused(client, demo, wrong_target)) == "28055"


def test_the_forward_policy_is_refused_because_reprotect_needs_the_reverse_mapping(client, demo):
    body = switch_body(demo, item_json(client, demo, "app-01"))
    body["properties"]["providerSpecificDetails"]["policyId"] = (
        f"{demo.vault_id}/replicationPolicies/24-hour-retention-policy"
    )
    assert asr_code(_refused(client, demo, body)) == "28056"


def test_the_original_disk_instead_of_the_one_in_use_is_refused(client, demo):
    item = item_json(client, demo, "app-01")
    body = switch_body(demo, item)
    original = item["properties"]["providerSpecificDetails"]["protectedManagedDisks"][0]["diskId"]
    body["properties"]["providerSpecificDetails"]["vmManagedDisks"][0]["diskId"] = original
    assert asr_code(_refused(client, demo, body)) == "28057"


def test_malformed_bodies_and_unknown_items_are_refused(client, demo):
    body = switch_body(demo, item_json(client, demo, "app-01"))
    del body["properties"]["providerSpecificDetails"]
    malformed = _refused(client, demo, body)
    assert (malformed.status_code, malformed.error.code) == (400, "InvalidRequestContent")
    nameless = _refused(client, demo, {"properties": {"providerSpecificDetails": {"instanceType": "A2A"}}})
    assert nameless.status_code == 400
    unknown = switch_body(demo, item_json(client, demo, "app-01"))
    unknown["properties"]["replicationProtectedItemName"] = "no-such-item"
    assert isinstance(_refused(client, demo, unknown), ResourceNotFoundError)


@pytest.mark.parametrize("vm", ["crm-01", "hr-01"])
def test_a_moved_or_deleted_source_vm_fails_the_job_at_the_prerequisite_check(client, demo, admin, vm):
    name = job_name_of(submit(client, demo, switch_body(demo, item_json(client, demo, vm))))
    advance(admin, 60)
    job = client.replication_jobs.get(demo.rg, demo.vault, name).properties
    assert job.state == "Failed"
    assert job.allowed_actions == ["Restart"]
    assert (job.tasks[0].task_id, job.tasks[0].state) == (
        "SwitchReplicationGroupProtectionPreflightTask",
        "Failed",
    )
    assert all(t.state == "NotStarted" for t in job.tasks[2:])
    error = job.errors[0]
    assert (error.service_error_details.code, error.task_id) == ("28083", job.tasks[0].task_id)
    assert "moved or deleted" in error.service_error_details.message
    assert job.tasks[0].errors[0].service_error_details.code == "28083"
    back = item_json(client, demo, vm)["properties"]
    assert back["protectionState"] == "UnplannedFailoverCommitted"
    assert "SwitchProtection" in back["allowedOperations"]


def test_a_region_outage_makes_its_fabric_critical_its_resources_unreadable_and_reprotect_fail(client, demo, admin):
    outage = {"down": True, "fabric_health": "Critical"}  # the fabric's health in an outage is not public
    admin.put("/_emulator/regions/eastasia/outage", json=outage).raise_for_status()
    fabric = client.replication_fabrics.get(demo.rg, demo.vault, demo.ea_fabric).properties
    assert fabric.health == "Critical"
    assert fabric.health_error_details[0].error_code == "150020"
    vm = arm_get(client, f"{demo.group_id('contoso-web-rg')}/providers/Microsoft.Compute/virtualMachines/web-01")
    assert vm.status_code == 503
    assert vm.json()["error"]["code"] == "ServiceUnavailable"
    assert client.replication_fabrics.get(demo.rg, demo.vault, demo.sea_fabric).properties.health == "Normal"
    name = job_name_of(submit(client, demo, switch_body(demo, item_json(client, demo, "web-01"))))
    advance(admin, 60)
    job = client.replication_jobs.get(demo.rg, demo.vault, name).properties
    assert job.state == "Failed"
    assert job.errors[0].service_error_details.code == "150020"
    assert job.errors[0].task_id == "SwitchReplicationGroupProtectionPreflightTask"
    admin.put("/_emulator/regions/eastasia/outage", json={"down": False}).raise_for_status()
    assert client.replication_fabrics.get(demo.rg, demo.vault, demo.ea_fabric).properties.health == "Normal"


def test_an_outage_during_a_reprotect_fails_it_at_its_current_task_and_rolls_back(client, demo, admin):
    name = job_name_of(submit(client, demo, switch_body(demo, item_json(client, demo, "app-01"))))
    advance(admin, 600)  # inside "Reprotecting virtual machine": the item has moved
    assert item_json(client, demo, "app-01", east=False)
    admin.put("/_emulator/regions/eastasia/outage", json={"down": True}).raise_for_status()
    job = client.replication_jobs.get(demo.rg, demo.vault, name).properties
    assert job.state == "Failed"
    assert job.errors[0].task_id == "ProtectReplicaTask"
    assert job.errors[0].service_error_details.code == "150020"
    assert "new_replication_protected_item_id" not in job.custom_details
    admin.put("/_emulator/regions/eastasia/outage", json={"down": False}).raise_for_status()
    assert item_json(client, demo, "app-01")["properties"]["protectionState"] == "UnplannedFailoverCommitted"
