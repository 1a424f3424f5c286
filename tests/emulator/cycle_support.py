"""Helpers for the failover-cycle tests: start each operation with the real SDK (models as app/cloud would
build them) without polling, read an item wherever it lives, and read VMs' power states over ARM."""

from __future__ import annotations

from typing import Any

import httpx
from azure.core.exceptions import ResourceNotFoundError
from azure.core.rest import HttpRequest
from azure.core.utils import case_insensitive_dict
from azure.mgmt.recoveryservicessiterecovery import SiteRecoveryManagementClient
from azure.mgmt.recoveryservicessiterecovery.models import (
    A2ATestFailoverInput,
    A2AUnplannedFailoverInput,
    TestFailoverCleanupInput,
    TestFailoverCleanupInputProperties,
    TestFailoverInput,
    TestFailoverInputProperties,
    UnplannedFailoverInput,
    UnplannedFailoverInputProperties,
)

from tests.emulator.support import Demo, advance, arm_get, item_json, job_name_of


def container_of(demo: Demo, east: bool) -> tuple[str, str]:
    """(fabric, container) of East Asia or Southeast Asia."""
    return (demo.ea_fabric, demo.ea_container) if east else (demo.sea_fabric, demo.sea_container)


def _hook(headers: Any) -> Any:
    return lambda response: headers.update(response.http_response.headers)


def start_test_failover(
    client: SiteRecoveryManagementClient, demo: Demo, name: str, *, east: bool, network_id: str, point: str | None
) -> str:
    """Start a test failover into ``network_id`` at ``point`` (None: latest); the job's name."""
    headers: Any = case_insensitive_dict()
    body = TestFailoverInput(
        properties=TestFailoverInputProperties(
            failover_direction="PrimaryToRecovery",
            network_type="VmNetworkAsInput",
            network_id=network_id,
            provider_specific_details=A2ATestFailoverInput(recovery_point_id=point),
        )
    )
    client.replication_protected_items.begin_test_failover(
        demo.rg, demo.vault, *container_of(demo, east), name, body, polling=False, raw_response_hook=_hook(headers)
    )
    return job_name_of(headers)


def cleanup(client: SiteRecoveryManagementClient, demo: Demo, name: str, *, east: bool, comments: str) -> str:
    """Start the test failover cleanup; the job's name."""
    headers: Any = case_insensitive_dict()
    body = TestFailoverCleanupInput(properties=TestFailoverCleanupInputProperties(comments=comments))
    client.replication_protected_items.begin_test_failover_cleanup(
        demo.rg, demo.vault, *container_of(demo, east), name, body, polling=False, raw_response_hook=_hook(headers)
    )
    return job_name_of(headers)


def unplanned_failover(
    client: SiteRecoveryManagementClient, demo: Demo, name: str, *, east: bool, point: str | None = None
) -> str:
    """Start an unplanned failover that shuts the source down first; the job's name."""
    headers: Any = case_insensitive_dict()
    body = UnplannedFailoverInput(
        properties=UnplannedFailoverInputProperties(
            failover_direction="PrimaryToRecovery",
            source_site_operations="Required",
            provider_specific_details=A2AUnplannedFailoverInput(recovery_point_id=point),
        )
    )
    client.replication_protected_items.begin_unplanned_failover(
        demo.rg, demo.vault, *container_of(demo, east), name, body, polling=False, raw_response_hook=_hook(headers)
    )
    return job_name_of(headers)


def commit(client: SiteRecoveryManagementClient, demo: Demo, name: str, *, east: bool) -> str:
    """Start the failover commit; the job's name."""
    headers: Any = case_insensitive_dict()
    client.replication_protected_items.begin_failover_commit(
        demo.rg, demo.vault, *container_of(demo, east), name, polling=False, raw_response_hook=_hook(headers)
    )
    return job_name_of(headers)


def props(client: SiteRecoveryManagementClient, demo: Demo, vm: str, *, east: bool) -> dict[str, Any]:
    """The item's ``properties`` (camelCase) from one container."""
    return dict(item_json(client, demo, vm, east=east)["properties"])


def state_at(client: SiteRecoveryManagementClient, demo: Demo, vm: str, *, east: bool) -> str | None:
    """The item's protectionState in that container; None while it lives elsewhere."""
    try:
        return str(props(client, demo, vm, east=east)["protectionState"])
    except ResourceNotFoundError:
        return None


def power_state(client: SiteRecoveryManagementClient, vm_id: str) -> str | None:
    """``running`` / ``deallocated`` from the VM's instance view; None when the VM does not exist."""
    answer = arm_get(client, f"{vm_id}/instanceView")
    if answer.status_code == 404:
        return None
    codes = [s["code"] for s in answer.json()["statuses"]]
    return next(c.split("/", 1)[1] for c in codes if c.startswith("PowerState/"))


def vnet_id(demo: Demo, group: str, name: str) -> str:
    """A virtual network's id in the demo subscription."""
    return f"{demo.group_id(group)}/providers/Microsoft.Network/virtualNetworks/{name}"


def wait_until(admin: httpx.Client, check: Any, *, step: float, limit: int = 60) -> None:
    """Advance the simulated clock by ``step`` until ``check()`` holds (at most ``limit`` steps)."""
    for _ in range(limit):
        if check():
            return
        advance(admin, step)
    assert check(), "the emulator never reached the expected state"


def create_cache_account(client: SiteRecoveryManagementClient, admin: httpx.Client, account_id: str) -> None:
    """Create a storage account over ARM (PUT) and let its creation finish."""
    request = HttpRequest(
        "PUT",
        account_id,
        params={"api-version": "2023-05-01"},
        json={"location": "eastasia", "kind": "StorageV2", "sku": {"name": "Standard_LRS"}},
    )
    answer = client.send_request(request)
    assert answer.status_code in (200, 202), answer.text()
    advance(admin, 60)
