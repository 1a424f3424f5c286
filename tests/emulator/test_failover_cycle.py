"""The whole way home for one VM with the unmodified SDK: reprotect, test failover into an isolated network,
cleanup, unplanned failover with the source shut down, commit, switch protection in the original direction,
protected again; allowedOperations, states, jobs and ARM resources checked at every stage."""

from __future__ import annotations

import pytest
from azure.core.exceptions import HttpResponseError

from tests.emulator.cycle_support import (
    cleanup,
    commit,
    create_cache_account,
    power_state,
    props,
    start_test_failover,
    state_at,
    unplanned_failover,
    vnet_id,
    wait_until,
)
from tests.emulator.support import DEMO_CACHE, advance, arm_get, asr_code, item_json, submit, switch_body

PROTECTED = ["DisableProtection", "PlannedFailover", "TestFailover", "UnplannedFailover"]
EA_CACHE = "/subscriptions/{sub}/resourceGroups/contoso-db-rg/providers/Microsoft.Storage/storageAccounts/eadbcache01"


def _job(client, demo, name):
    return client.replication_jobs.get(demo.rg, demo.vault, name).properties


def _reprotected(client, demo, admin):
    """db-01 switched to Southeast Asia -> East Asia protection and protected (the cycle's start)."""
    submit(client, demo, switch_body(demo, item_json(client, demo, "db-01"), cache=DEMO_CACHE.format(sub=demo.sub)))
    wait_until(admin, lambda: state_at(client, demo, "db-01", east=False) == "Protected", step=3000)
    advance(admin, 4 * 3600)  # some hours of recovery points (app-consistent every 4 h)


def test_the_whole_way_home_through_the_sdk(client, demo, admin):
    _reprotected(client, demo, admin)
    item = props(client, demo, "db-01", east=False)
    assert item["allowedOperations"] == PROTECTED
    assert (item["activeLocation"], item["testFailoverState"]) == ("Primary", "None")
    sea_vm = item["providerSpecificDetails"]["fabricObjectId"]
    ea_vm = item["providerSpecificDetails"]["recoveryFabricObjectId"]
    points = list(
        client.recovery_points.list_by_replication_protected_items(
            demo.rg, demo.vault, demo.sea_fabric, demo.sea_container, "db-01"
        )
    )
    app_point = next(p for p in points if p.properties.recovery_point_type == "AppConsistent")

    # Test failover into the isolated East Asia network at an app-consistent point.
    test_net = vnet_id(demo, "contoso-net-rg", "contoso-vnet-ea-test")
    tfo = start_test_failover(client, demo, "db-01", east=False, network_id=test_net, point=app_point.id)
    during = props(client, demo, "db-01", east=False)
    assert (during["currentScenario"]["scenarioName"], during["allowedOperations"]) == ("TestFailover", [])
    assert during["testFailoverState"] == "InProgress"
    job = _job(client, demo, tfo)
    assert (job.scenario_name, job.friendly_name, job.allowed_actions) == ("TestFailover", "Test failover", [])
    assert [t.friendly_name for t in job.tasks] == [
        "Prerequisites check for test failover",
        "Create test virtual machine",
        "Preparing the virtual machine",
        "Start the virtual machine",
    ]
    advance(admin, 600)
    assert _job(client, demo, tfo).state == "Succeeded"
    drilled = props(client, demo, "db-01", east=False)
    assert (drilled["protectionState"], drilled["protectionStateDescription"]) == (
        "Protected",
        "Cleanup test failover pending",
    )
    assert (drilled["testFailoverState"], drilled["allowedOperations"]) == (
        "WaitingForCompletion",
        ["TestFailoverCleanup"],
    )
    assert drilled["currentScenario"]["scenarioName"] == "TestFailover"
    assert drilled["lastSuccessfulTestFailoverTime"] is not None
    assert drilled["failoverRecoveryPointId"].lower() == app_point.id.lower()
    test_vm = drilled["providerSpecificDetails"]["testFailoverRecoveryFabricObjectId"]
    assert test_vm.endswith("/virtualmachines/db-01-test")
    assert power_state(client, test_vm) == "running"
    nic_id = arm_get(client, test_vm).json()["properties"]["networkProfile"]["networkInterfaces"][0]["id"]
    subnet = arm_get(client, nic_id).json()["properties"]["ipConfigurations"][0]["properties"]["subnet"]["id"]
    assert subnet.lower().startswith(test_net.lower())
    assert power_state(client, sea_vm) == "running"  # production untouched

    # Cleanup with the operator's notes.
    job_name = cleanup(client, demo, "db-01", east=False, comments="drill ok: app answered")
    assert props(client, demo, "db-01", east=False)["testFailoverState"] == "MarkedForDeletion"
    advance(admin, 300)
    job = _job(client, demo, job_name)
    assert (job.state, job.custom_details.comments) == ("Succeeded", "drill ok: app answered")
    cleaned = props(client, demo, "db-01", east=False)
    assert (cleaned["testFailoverState"], cleaned["allowedOperations"]) == ("None", PROTECTED)
    assert cleaned["currentScenario"]["scenarioName"] == "None"
    assert power_state(client, test_vm) is None

    # Unplanned failover back to East Asia, source shut down first, latest processed point.
    job_name = unplanned_failover(client, demo, "db-01", east=False)
    assert props(client, demo, "db-01", east=False)["protectionState"] == "UnplannedFailoverInProgress"
    job = _job(client, demo, job_name)
    assert [t.friendly_name for t in job.tasks] == [
        "Prerequisites check for failover",
        "Shut down the virtual machine",
        "Synchronizing the latest changes",
        "Start failover",
        "Start the replica virtual machine",
    ]
    advance(admin, 900)
    assert _job(client, demo, job_name).state == "Succeeded"
    failed_over = props(client, demo, "db-01", east=False)
    assert (failed_over["protectionState"], failed_over["activeLocation"]) == (
        "UnplannedFailoverCommitPendingStatesBegin",
        "Recovery",
    )
    assert failed_over["allowedOperations"] == ["ChangePit", "Commit", "DisableProtection"]
    assert failed_over["lastSuccessfulFailoverTime"] is not None
    assert failed_over["failoverRecoveryPointId"] is not None
    assert power_state(client, sea_vm) == "deallocated"
    assert power_state(client, ea_vm) == "running"

    # Commit.
    job_name = commit(client, demo, "db-01", east=False)
    advance(admin, 60)
    job = _job(client, demo, job_name)
    assert (job.scenario_name, job.friendly_name, job.state) == ("CommitFailover", "Commit", "Succeeded")
    assert [t.friendly_name for t in job.tasks] == ["Prerequisite check", "Commit"]
    committed = props(client, demo, "db-01", east=False)
    assert (committed["protectionState"], committed["allowedOperations"]) == (
        "UnplannedFailoverCommitted",
        ["CompleteMigration", "DisableProtection", "SwitchProtection"],
    )

    # Switch protection in the original direction (East Asia -> Southeast Asia), until protected.
    cache = EA_CACHE.format(sub=demo.sub)
    create_cache_account(client, admin, cache)
    body = switch_body(demo, item_json(client, demo, "db-01", east=False), cache=cache)
    body["properties"]["providerSpecificDetails"]["recoveryContainerId"] = demo.sea_container_id
    body["properties"]["providerSpecificDetails"]["policyId"] = (
        f"{demo.vault_id}/replicationPolicies/24-hour-retention-policy"
    )
    client.replication_protection_containers.begin_switch_protection(
        demo.rg, demo.vault, demo.sea_fabric, demo.sea_container, body, polling=False
    )
    wait_until(admin, lambda: state_at(client, demo, "db-01", east=True) == "Protected", step=3000)
    home = props(client, demo, "db-01", east=True)
    assert (home["primaryFabricFriendlyName"], home["recoveryFabricFriendlyName"]) == ("East Asia", "Southeast Asia")
    assert (home["activeLocation"], home["allowedOperations"]) == ("Primary", PROTECTED)
    assert home["providerSpecificDetails"]["fabricObjectId"].lower() == ea_vm.lower()


def test_operations_outside_allowed_operations_are_refused_with_azures_envelope(client, demo, admin):
    # intranet-01 is protected East Asia -> Southeast Asia: no commit, no cleanup before a test failover.
    for start in (
        lambda: commit(client, demo, "intranet-01", east=True),
        lambda: cleanup(client, demo, "intranet-01", east=True, comments="too early"),
    ):
        with pytest.raises(HttpResponseError) as refused:
            start()
        assert refused.value.status_code == 400
        assert asr_code(refused.value) == "28053"
    test_net = vnet_id(demo, "contoso-net-rg-asr", "contoso-vnet-sea-test")
    start_test_failover(client, demo, "intranet-01", east=True, network_id=test_net, point=None)
    with pytest.raises(HttpResponseError) as busy:
        unplanned_failover(client, demo, "intranet-01", east=True)
    assert busy.value.status_code == 409
    assert asr_code(busy.value) == "28054"
    advance(admin, 600)
    with pytest.raises(HttpResponseError) as pending:
        unplanned_failover(client, demo, "intranet-01", east=True)
    assert asr_code(pending.value) == "28053"  # only TestFailoverCleanup now
