"""Switch protection (the A2A managed-disk reprotect) end to end with the unmodified SDK: the job's tasks,
the item moving to Southeast Asia, the artifacts in ARM, the resync, protection and recovery points."""

from __future__ import annotations

import pytest
from azure.core.exceptions import HttpResponseError, ResourceNotFoundError

from tests.emulator.support import advance, arm_get, item_json, job_name_of, submit, switch_body

TASKS = [
    ("SwitchReplicationGroupProtectionPreflightTask", "Prerequisite check"),
    ("CommitFailoverTask", "Committing failover"),
    ("DiscoverReplicaTask", "Discovering replica virtual machine"),
    ("GetSwitchProtectionRequirementsTask", "Getting reprotection requirements"),
    ("ProtectReplicaTask", "Reprotecting virtual machine (1)"),
]


def _avset(demo, group, name):
    return f"{demo.group_id(group)}/providers/Microsoft.Compute/availabilitySets/{name}"


def test_switch_protection_runs_the_documented_tasks_and_moves_the_item(client, demo, admin):
    before = item_json(client, demo, "web-01")
    body = switch_body(demo, before, recoveryAvailabilitySetId=_avset(demo, "contoso-web-rg", "web-avset"))
    headers = submit(client, demo, body)
    assert "/replicationProtectionContainers/" in headers["Location"]
    assert "/operationresults/" in headers["Location"]
    assert "/replicationOperationStatus/" in headers["Azure-AsyncOperation"]
    assert int(headers["Retry-After"]) >= 1
    name = job_name_of(headers)
    assert headers["x-ms-request-id"].endswith(f"/replicationJobs/{name}")

    switching = item_json(client, demo, "web-01")["properties"]
    assert switching["protectionState"] == "SwitchProtectionInProgress"
    assert switching["currentScenario"]["scenarioName"] == "SwitchProtection"
    assert switching["currentScenario"]["jobId"].endswith(name)
    assert "SwitchProtection" not in switching["allowedOperations"]
    job = client.replication_jobs.get(demo.rg, demo.vault, name).properties
    assert (job.scenario_name, job.friendly_name, job.target_object_name) == (
        "SwitchReplicationGroupProtection",
        "Reprotect",
        "web-01",
    )
    assert [(t.task_id, t.friendly_name) for t in job.tasks] == TASKS
    assert job.allowed_actions == ["Cancel"]

    advance(admin, 60)
    job = client.replication_jobs.get(demo.rg, demo.vault, name).properties
    assert job.state == "InProgress"
    assert [t.state for t in job.tasks] == ["Succeeded", "Other", "Succeeded", "Succeeded", "InProgress"]
    assert job.tasks[1].state_description == "Skipped"
    assert job.tasks[0].start_time < job.tasks[0].end_time <= job.tasks[2].start_time
    child = job.tasks[4].group_task_custom_details.child_tasks[0]
    assert child.custom_details.job_task.job_friendly_name == "Enable replication"
    assert job.allowed_actions == ["Cancel"]  # as recorded (a2a_reprotect_job_in_progress.json)
    new_id = job.custom_details.new_replication_protected_item_id
    assert f"/replicationFabrics/{demo.sea_fabric}/" in new_id
    assert new_id.rsplit("/", 1)[-1] == "web-01"
    with pytest.raises(ResourceNotFoundError):
        client.replication_protected_items.get(demo.rg, demo.vault, demo.ea_fabric, demo.ea_container, "web-01")
    moved = item_json(client, demo, "web-01", east=False)
    assert moved["id"].lower() == new_id.lower()
    props = moved["properties"]
    assert (props["protectionState"], props["activeLocation"]) == ("UnprotectedStatesBegin", "Primary")
    assert (props["primaryFabricFriendlyName"], props["recoveryFabricFriendlyName"]) == (
        "Southeast Asia",
        "East Asia",
    )
    assert props["policyFriendlyName"] == "24-hour-retention-policy-failback"
    a2a = props["providerSpecificDetails"]
    assert a2a["fabricObjectId"] == before["properties"]["providerSpecificDetails"]["recoveryFabricObjectId"]
    assert (a2a["primaryFabricLocation"], a2a["recoveryFabricLocation"]) == ("southeastasia", "eastasia")
    assert a2a["vmNics"][0]["recoveryVMNetworkId"].endswith("contoso-vnet-ea")
    cache = body["properties"]["providerSpecificDetails"]["vmManagedDisks"][0]["primaryStagingAzureStorageAccountId"]
    account = arm_get(client, cache)
    assert account.status_code == 200
    assert account.json()["location"] == "southeastasia"

    original = (
        f"/subscriptions/{demo.sub}/resourceGroups/contoso-web-rg/providers/Microsoft.Compute/virtualMachines/web-01"
    )
    advance(admin, 1000)  # past "turn the target-side VM off", "copy to seed" and "delete that VM"
    assert arm_get(client, original).status_code == 404
    details = admin.get("/_emulator/items/web-01").json()["artifacts"]
    assert details["target_vm"] == {"id": original, "power_before": "running", "deleted": True}
    assert details["seed_blobs"]
    assert details["availability_set"]["action"] == "reused"

    advance(admin, 5500)
    job = client.replication_jobs.get(demo.rg, demo.vault, name).properties
    assert job.state == "Succeeded"
    assert job.end_time >= job.tasks[4].end_time
    resyncing = item_json(client, demo, "web-01", east=False)["properties"]
    assert resyncing["protectionState"] == "UnprotectedStatesBegin"
    assert resyncing["currentScenario"]["scenarioName"] == "None"
    assert resyncing["providerSpecificDetails"]["monitoringJobType"] == "InitialReplication"
    assert 0 <= resyncing["providerSpecificDetails"]["monitoringPercentageCompletion"] < 100
    recreated = arm_get(client, original, **{"$expand": "instanceView"}).json()
    assert recreated["location"] == "eastasia"
    assert recreated["properties"]["availabilitySet"]["id"].endswith("web-avset")
    assert "PowerState/deallocated" in [s["code"] for s in recreated["properties"]["instanceView"]["statuses"]]

    advance(admin, 5000)
    protected = item_json(client, demo, "web-01", east=False)["properties"]
    assert (protected["protectionState"], protected["replicationHealth"]) == ("Protected", "Normal")
    assert {"PlannedFailover", "UnplannedFailover", "TestFailover", "DisableProtection"} <= set(
        protected["allowedOperations"]
    )
    advance(admin, 900)
    points = list(
        client.recovery_points.list_by_replication_protected_items(
            demo.rg, demo.vault, demo.sea_fabric, demo.sea_container, "web-01"
        )
    )
    assert len(points) >= 3
    assert points[0].properties.recovery_point_type in ("CrashConsistent", "AppConsistent")


def test_the_sdk_poller_follows_the_job_and_returns_the_container(client, demo, admin):
    admin.put("/_emulator/time-scale", json={"time_scale": 50000}).raise_for_status()
    body = switch_body(demo, item_json(client, demo, "api-01"))
    poller = client.replication_protection_containers.begin_switch_protection(
        demo.rg, demo.vault, demo.ea_fabric, demo.ea_container, body
    )
    result = poller.result(timeout=30)
    assert poller.status() == "Succeeded"
    assert result.name == demo.ea_container
    jobs = list(client.replication_jobs.list(demo.rg, demo.vault))
    assert [j.properties.state for j in jobs] == ["Succeeded"]
    item = admin.get("/_emulator/scenario").json()["subscriptions"][0]["vaults"][0]["items"]
    api = next(i for i in item if i["vm_name"] == "api-01")
    assert api["name"] == "Qm7Zr2Lx9Tc4Vb8Nw1Ks6Pd3Hf5Jg0Ya2Ue7Xi4Ro9"
    assert f"/replicationFabrics/{demo.sea_fabric}/" in api["id"]


def test_customised_targets_are_created_or_reused_and_recorded(client, demo, admin):
    body = switch_body(
        demo,
        item_json(client, demo, "app-01"),
        recoveryAvailabilitySetId=_avset(demo, "contoso-app-rg", "app-avset-new"),
        recoveryProximityPlacementGroupId=f"{demo.group_id('contoso-db-rg')}/providers/Microsoft.Compute/"
        "proximityPlacementGroups/contoso-db-ppg",
    )
    for disk in body["properties"]["providerSpecificDetails"]["vmManagedDisks"]:
        disk["recoveryTargetDiskAccountType"] = "StandardSSD_LRS"
        disk["recoveryReplicaDiskAccountType"] = "Standard_LRS"
    submit(client, demo, body)
    advance(admin, 60)
    record = admin.get("/_emulator/items/app-01").json()["artifacts"]
    assert record["target_resource_group"]["action"] == "reused"  # the original VM's group
    assert record["availability_set"]["action"] == "created"
    assert record["proximity_placement_group"]["action"] == "reused"
    assert record["cache_storage_accounts"][0]["action"] == "reused"  # Site Recovery never creates it
    disks = item_json(client, demo, "app-01", east=False)["properties"]["providerSpecificDetails"]
    assert {d["recoveryTargetDiskAccountType"] for d in disks["protectedManagedDisks"]} == {"StandardSSD_LRS"}
    assert {d["recoveryReplicaDiskAccountType"] for d in disks["protectedManagedDisks"]} == {"Standard_LRS"}
    assert disks["recoveryAzureResourceGroupId"].lower().endswith("/contoso-app-rg")
    advance(admin, 30000)
    vm = arm_get(client, f"{demo.group_id('contoso-app-rg')}/providers/Microsoft.Compute/virtualMachines/app-01")
    assert vm.status_code == 200
    assert len(vm.json()["properties"]["storageProfile"]["dataDisks"]) == 2


def test_another_target_resource_group_than_the_original_vms_is_refused(client, demo, admin):
    body = switch_body(demo, item_json(client, demo, "app-01"), target_group=demo.group_id("custom-target-rg"))
    with pytest.raises(HttpResponseError) as refused:
        submit(client, demo, body)
    assert refused.value.status_code == 400
    error = refused.value.response.json()["error"]
    # ASR's own code at the top or inside details[] (Azure's envelope): either way it is there, with what to do.
    assert "28059" in {error["code"], *(d.get("code") for d in error.get("details") or [])}
    assert "contoso-app-rg" in refused.value.response.text()
    assert arm_get(client, demo.group_id("custom-target-rg")).status_code == 404  # nothing was created
    assert item_json(client, demo, "app-01")["properties"]["protectionState"] == "UnplannedFailoverCommitted"


def test_an_existing_cache_account_is_reused(client, demo, admin):
    cache = f"{demo.group_id('contoso-db-rg-asr')}/providers/Microsoft.Storage/storageAccounts/k3v9qpcontosodrvasrcache"
    submit(client, demo, switch_body(demo, item_json(client, demo, "db-01"), cache=cache))
    advance(admin, 60)
    record = admin.get("/_emulator/items/db-01").json()["artifacts"]
    assert record["cache_storage_accounts"] == [{"id": cache, "action": "reused"}]


def test_stats_count_each_switch_protection_once_and_keep_its_body(client, demo, admin):
    body = switch_body(demo, item_json(client, demo, "web-01"))
    submit(client, demo, body)
    client.replication_jobs.list(demo.rg, demo.vault)
    stats = admin.get("/_emulator/stats").json()
    assert stats["calls_by_item"]["web-01"]["ReplicationProtectionContainers_SwitchProtection"] == 1
    assert stats["calls_by_item"]["web-01"]["ReplicationProtectedItems_Get"] == 1
    assert stats["switch_protection_bodies"]["web-01"] == [body]
    assert stats["calls"]["ReplicationProtectionContainers_SwitchProtection"] == 1
    assert stats["writes"] == 1
    assert stats["reads"] >= 1
    assert stats["requests"] == stats["reads"] + stats["writes"]
