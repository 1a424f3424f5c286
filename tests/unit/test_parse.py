"""The adapter reads Site Recovery's real JSON (public recordings in tests/data/azure)."""

from app.cloud import parse
from app.cloud.ids import ItemRef, parse_item_id
from app.cloud.types import DiskReplication, SwitchProtectionSpec
from tests.data import load


def test_item_after_failover_commit_is_read_as_azure_reports_it():
    item = parse.item(load("a2a_rpi_after_failover_commit.json"))
    assert item.protection_state == "UnplannedFailoverCommitted"
    assert item.active_location == "Recovery"
    assert "SwitchProtection" in item.allowed_operations
    assert item.current_scenario == "None"
    assert item.current_job_id is None  # ".../replicationJobs/None" means no job
    assert (item.primary_fabric_name, item.recovery_fabric_name) == ("UK South", "UK West")
    assert item.source_vm_id.endswith("/virtualmachines/reprotectvm")
    assert "vijami-alertrg-asr-1" in item.running_vm_id
    disk = item.disks[0]
    assert disk.in_use_disk_id.startswith(
        "/subscriptions/7c943c1b-5122-4097-90c8-861411bdd574/resourceGroups/vijami-alertrg-asr-1"
    )
    assert disk.capacity_bytes == 136367308800


def test_finished_reprotect_job_is_mirrored_with_its_tasks_and_new_item():
    job = parse.job(load("a2a_reprotect_job_succeeded.json"))
    assert job.state == "Succeeded"
    assert [t.name for t in job.tasks][:2] == ["Prerequisite check", "Committing failover"]
    skipped = job.tasks[1]
    assert (skipped.state_description, skipped.start_time) == ("Skipped", None)
    assert "asr-a2a-default-ukwest-container" in job.new_item_id


def test_switch_protection_body_matches_what_powershell_sends():
    recorded = load("a2a_switchprotection_request_and_202.json")["request"]
    sent = recorded["body"]["properties"]["providerSpecificDetails"]
    ref: ItemRef = parse_item_id(
        recorded["uri"].split("/switchprotection")[0]
        + "/replicationProtectedItems/YtSLUmr1siwOhCNihjyTaOjo3bXTQoCCN96TnEVq5fM"
    )
    disk = sent["vmManagedDisks"][0]
    spec = SwitchProtectionSpec(
        item=ref,
        recovery_container_id=sent["recoveryContainerId"],
        policy_id=sent["policyId"],
        recovery_resource_group_id=sent["recoveryResourceGroupId"],
        cache_storage_account_id=disk["primaryStagingAzureStorageAccountId"],
        disks=(
            DiskReplication(
                disk_id=disk["diskId"],
                staging_account_id=disk["primaryStagingAzureStorageAccountId"],
                recovery_resource_group_id=disk["recoveryResourceGroupId"],
                replica_disk_type=disk.get("recoveryReplicaDiskAccountType"),
                target_disk_type=disk.get("recoveryTargetDiskAccountType"),
            ),
        ),
    )
    assert parse.switch_protection_body(spec) == recorded["body"]
