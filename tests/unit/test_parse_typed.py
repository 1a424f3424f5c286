"""What crosses the Cloud interface is typed: ASR job errors (the service's and the provider's codes and
advice), VMs and plain resources are read from Azure's JSON, and ids Azure sends that the service cannot
read are Azure's fault (CloudPermanent), never the caller's (InvalidRequest)."""

from __future__ import annotations

import pytest

from app.cloud import parse
from app.errors import CloudPermanent

VAULT = "/subscriptions/s1/resourceGroups/rg/providers/Microsoft.RecoveryServices/vaults/v"
RG = "/subscriptions/s1/resourceGroups/app-rg"


def _failed_job(errors: list[dict]) -> dict:
    # Shape of the SDK's Job / JobErrorDetails models (azure-mgmt-recoveryservicessiterecovery 2.0.0).
    return {
        "id": f"{VAULT}/replicationJobs/j1",
        "name": "j1",
        "properties": {"state": "Failed", "stateDescription": "Failed", "errors": errors, "tasks": []},
    }


def test_a_failed_jobs_errors_keep_both_codes_and_azures_advice():
    job = parse.job(
        _failed_job(
            [
                {
                    "serviceErrorDetails": {
                        "code": "151195",
                        "message": "Enable replication failed.",
                        "possibleCauses": "The cache storage account is not reachable.",
                        "recommendedAction": "Allow access to the account, then retry.",
                    },
                    "providerErrorDetails": {"errorCode": 539, "errorMessage": "Access denied."},
                    "taskId": "task-4",
                    "errorLevel": "Error",
                }
            ]
        )
    )
    (error,) = job.errors
    assert (error.code, error.provider_code, error.task_id) == ("151195", 539, "task-4")
    assert error.possible_causes == "The cache storage account is not reachable."
    assert error.recommended_action == "Allow access to the account, then retry."
    assert error.provider_message == "Access denied."


def test_a_top_level_error_code_stands_in_for_missing_service_details():
    (error,) = parse.job(_failed_job([{"errorCode": "150097", "errorMessage": "Quota."}])).errors
    assert (error.code, error.message, error.provider_code) == ("150097", "Quota.", None)


def test_a_non_integer_provider_code_is_not_invented():
    (error,) = parse.job(_failed_job([{"providerErrorDetails": {"errorCode": "x"}}])).errors
    assert (error.code, error.provider_code) == (None, None)


def test_a_job_error_with_only_the_providers_side_keeps_its_code_and_advice():
    # Azure may leave serviceErrorDetails null (ProviderError and ServiceError are both optional in the model).
    raw = {
        "serviceErrorDetails": None,
        "providerErrorDetails": {
            "errorCode": 539,
            "errorMessage": "Access denied.",
            "errorId": "e1",
            "possibleCauses": "The cache account refuses the service.",
            "recommendedAction": "Allow trusted Microsoft services on the account.",
        },
    }
    (error,) = parse.job(_failed_job([raw])).errors
    assert (error.code, error.message, error.provider_code, error.provider_message) == (
        "539",
        "Access denied.",
        539,
        "Access denied.",
    )
    assert error.possible_causes == "The cache account refuses the service."
    assert error.recommended_action == "Allow trusted Microsoft services on the account."


def test_a_provider_code_sent_as_a_numeric_string_is_read_as_the_integer_it_is():
    (error,) = parse.job(_failed_job([{"providerErrorDetails": {"errorCode": "4711"}}])).errors
    assert error.provider_code == 4711


def test_a_vm_is_read_with_its_availability_set_and_managed_disks_os_first():
    vm = parse.virtual_machine(
        {
            "id": f"{RG}/providers/Microsoft.Compute/virtualMachines/web-1",
            "location": "eastasia",
            "properties": {
                "availabilitySet": {"id": f"{RG}/providers/Microsoft.Compute/availabilitySets/web"},
                "storageProfile": {
                    "osDisk": {"managedDisk": {"id": "os-disk"}},
                    "dataDisks": [{"managedDisk": {"id": "data-1"}}, {"vhd": {"uri": "https://x"}}],
                },
            },
        }
    )
    assert (vm.name, vm.location) == ("web-1", "eastasia")
    assert vm.availability_set_id.endswith("/availabilitySets/web")
    assert vm.disk_ids == ("os-disk", "data-1")


def test_a_resource_without_a_name_is_named_by_its_id():
    account = parse.resource({"id": f"{RG}/providers/Microsoft.Storage/storageAccounts/cache1", "location": "x"})
    assert (account.name, account.location) == ("cache1", "x")


@pytest.mark.parametrize(
    "read",
    [
        lambda: parse.resource({"location": "x"}),
        lambda: parse.container_mapping({"id": "not-an-arm-id", "properties": {}}),
        lambda: parse.item({"id": f"{VAULT}/replicationFabrics/f", "properties": {}}),
    ],
)
def test_an_unreadable_id_from_azure_is_a_cloud_error_not_a_bad_request(read):
    with pytest.raises(CloudPermanent) as refused:
        read()
    assert refused.value.code == "unreadable_azure_answer"
