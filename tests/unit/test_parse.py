"""The adapter reads Site Recovery's real JSON (public recordings in tests/data/azure)."""

import copy

import pytest

from app.cloud import parse
from app.cloud.ids import parse_item_id
from app.cloud.types import ContainerMapping
from app.job.prerequisites import resolve_plan
from app.job.schemas import VmTarget
from app.job.steps import spec_from_plan
from tests.data import load
from tests.fakes import ready_cloud, sample_item


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


def _same_as_powershell(sent: object, recorded: object, where: str = "body") -> None:
    """Field by field: the same keys at every level and the same values; ARM ids compare case-insensitively
    (Azure treats them so, and PowerShell sends them as the operator typed them)."""
    if isinstance(recorded, dict):
        assert isinstance(sent, dict), where
        assert set(sent) == set(recorded), f"{where}: sent {sorted(sent)}, PowerShell {sorted(recorded)}"
        for key, value in recorded.items():
            _same_as_powershell(sent[key], value, f"{where}.{key}")
    elif isinstance(recorded, list):
        assert isinstance(sent, list), where
        assert len(sent) == len(recorded), where
        for index, (mine, theirs) in enumerate(zip(sent, recorded, strict=True)):
            _same_as_powershell(mine, theirs, f"{where}[{index}]")
    elif isinstance(recorded, str) and recorded.lower().startswith("/subscriptions/"):
        assert isinstance(sent, str), where
        assert sent.lower() == recorded.lower(), f"{where}: sent {sent}, PowerShell {recorded}"
    else:
        assert sent == recorded, f"{where}: sent {sent!r}, PowerShell {recorded!r}"


def test_switch_protection_body_for_the_recorded_item_is_what_powershell_sent():
    """The recorded item through the service's own plan (prerequisites, plan, spec, body) gives the body
    ``Update-AzRecoveryServicesAsrProtectionDirection -AzureToAzure`` sent for it in the same recording, with
    the cache account PowerShell named (one that exists, in UK West where the VM runs)."""
    recorded = load("a2a_switchprotection_request_and_202.json")["request"]
    sent_by_powershell = recorded["body"]["properties"]["providerSpecificDetails"]
    raw_item = sample_item()
    cloud = ready_cloud(raw_item)
    back = sent_by_powershell["recoveryContainerId"]
    cloud.mappings = [
        ContainerMapping(back.replace("uksouth", "ukwest"), back, sent_by_powershell["policyId"], "Paired")
    ]
    cache = sent_by_powershell["vmManagedDisks"][0]["primaryStagingAzureStorageAccountId"]
    cloud.add_storage_account(cache, location="ukwest")
    plan = resolve_plan(cloud, VmTarget(item_id=raw_item["id"], cache_storage_account_id=cache))
    body = parse.switch_protection_body(spec_from_plan(parse_item_id(raw_item["id"]), plan))
    _same_as_powershell(body, recorded["body"])
    # The recording's item is neither encrypted nor in a scale set: PowerShell sent no such field, nor do we.
    assert not {"diskEncryptionInfo", "recoveryVirtualMachineScaleSetId"} & set(
        body["properties"]["providerSpecificDetails"]
    )


def test_the_body_comparison_notices_a_missing_or_different_field():
    recorded = load("a2a_switchprotection_request_and_202.json")["request"]["body"]
    changed = copy.deepcopy(recorded)
    del changed["properties"]["providerSpecificDetails"]["vmDisks"]
    with pytest.raises(AssertionError):
        _same_as_powershell(changed, recorded)
    changed = copy.deepcopy(recorded)
    changed["properties"]["providerSpecificDetails"]["vmManagedDisks"][0]["recoveryTargetDiskAccountType"] = (
        "Standard_LRS"
    )
    with pytest.raises(AssertionError):
        _same_as_powershell(changed, recorded)
