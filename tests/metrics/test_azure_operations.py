"""Azure calls are labelled by method and resource type, never by the names and ids in their URL."""

from __future__ import annotations

import pytest

from app.metrics.azure import operation_of

VAULT = "https://management.azure.com/subscriptions/s1/resourceGroups/rg/providers/Microsoft.RecoveryServices/vaults/v1"


@pytest.mark.parametrize(
    ("method", "url", "operation"),
    [
        (
            "post",
            f"{VAULT}/replicationFabrics/f/replicationProtectionContainers/c/switchprotection?api-version=2025-08-01",
            "POST replicationProtectionContainers/switchprotection",
        ),
        (
            "GET",
            f"{VAULT}/replicationFabrics/f/replicationProtectionContainers/c/replicationProtectedItems/vm-1",
            "GET replicationProtectedItems",
        ),
        ("GET", f"{VAULT}/replicationProtectedItems?api-version=2025-08-01", "GET vaults/replicationProtectedItems"),
        ("GET", f"{VAULT}/replicationJobs/0b6c", "GET replicationJobs"),
        (
            "GET",
            "https://management.azure.com/subscriptions/s1/resourcegroups/rg-x?api-version=1",
            "GET resourcegroups",
        ),
        (
            "GET",
            "http://127.0.0.1:8900/subscriptions/s2/resourceGroups/rg/providers/Microsoft.Compute/virtualMachines/vm-7",
            "GET virtualMachines",
        ),
    ],
)
def test_operations_are_named_by_method_and_resource_type(method, url, operation):
    assert operation_of(method, url) == operation
