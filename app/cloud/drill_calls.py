"""The Site Recovery calls of a drill over the SDK: test failover, its cleanup, and the recovery points.

Driven as Azure PowerShell's ``Start-AzRecoveryServicesAsrTestFailoverJob`` does for A2A
(``StartAzureRmRecoveryServicesAsrTestFailoverJob.cs``: ``TestFailoverInputProperties`` with
``FailoverDirection`` (its mandatory -Direction), ``NetworkType = "VmNetworkAsInput"``, ``NetworkId`` and
``A2ATestFailoverInput { RecoveryPointId }``) and
``Start-AzRecoveryServicesAsrTestFailoverCleanupJob`` (``TestFailoverCleanupInputProperties { Comments }``);
models of azure-mgmt-recoveryservicessiterecovery 2.0.0. Never waits: the job's steps poll the ASR job.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any
from urllib.parse import urlparse

from azure.mgmt.recoveryservicessiterecovery import SiteRecoveryManagementClient
from azure.mgmt.recoveryservicessiterecovery.models import (
    A2ATestFailoverInput,
    TestFailoverCleanupInput,
    TestFailoverCleanupInputProperties,
    TestFailoverInput,
    TestFailoverInputProperties,
)

from app.cloud.errors import translated
from app.cloud.ids import ItemRef, name_of
from app.cloud.types import RecoveryPoint, TestFailoverSpec
from app.errors import CloudPermanent, InvalidRequest

# The isolated network is given by id (PowerShell's -AzureVMNetworkId sets this network type).
NETWORK_TYPE = "VmNetworkAsInput"


class _OperationName:
    """Captures the ASR job's name from the 202's Azure-AsyncOperation (or Location) header."""

    def __init__(self) -> None:
        self.url = ""

    def __call__(self, response: Any) -> None:
        headers = response.http_response.headers
        self.url = headers.get("Azure-AsyncOperation") or headers.get("Location") or ""

    def job_name(self, what: str) -> str:
        try:
            return name_of(urlparse(self.url).path)
        except InvalidRequest as exc:
            raise CloudPermanent(f"Azure accepted {what} but named no operation.", code="no_operation") from exc


def test_failover(client: SiteRecoveryManagementClient, spec: TestFailoverSpec) -> str:
    """Start a test failover of ``spec.item`` into ``spec.network_id``; the ASR job's name."""
    ref = spec.item
    body = TestFailoverInput(
        properties=TestFailoverInputProperties(
            failover_direction=spec.failover_direction,
            network_type=NETWORK_TYPE,
            network_id=spec.network_id,
            provider_specific_details=A2ATestFailoverInput(recovery_point_id=spec.recovery_point_id),
        )
    )
    return start_item_operation(client.replication_protected_items.begin_test_failover, ref, body, "the test failover")


test_failover.__test__ = False  # type: ignore[attr-defined]  # not a pytest test


def test_failover_cleanup(client: SiteRecoveryManagementClient, ref: ItemRef, comments: str) -> str:
    """Start the cleanup of ``ref``'s test failover with the operator's ``comments``; the ASR job's name."""
    body = TestFailoverCleanupInput(properties=TestFailoverCleanupInputProperties(comments=comments or None))
    begin = client.replication_protected_items.begin_test_failover_cleanup
    return start_item_operation(begin, ref, body, "the test failover cleanup")


def start_item_operation(begin: Callable[..., object], ref: ItemRef, body: object | None, what: str) -> str:
    """Send one item operation without polling (``body`` None: the operation takes none); the ASR job's name
    from Azure's answer."""
    operation = _OperationName()
    with translated():
        begin(
            ref.vault.resource_group,
            ref.vault.name,
            ref.fabric,
            ref.container,
            ref.name,
            *([] if body is None else [body]),
            polling=False,
            raw_response_hook=operation,
        )
    return operation.job_name(what)


test_failover_cleanup.__test__ = False  # type: ignore[attr-defined]  # not a pytest test


def recovery_points(client: SiteRecoveryManagementClient, ref: ItemRef) -> list[RecoveryPoint]:
    """``RecoveryPoints_ListByReplicationProtectedItems``, newest first."""
    with translated():
        models = client.recovery_points.list_by_replication_protected_items(
            ref.vault.resource_group, ref.vault.name, ref.fabric, ref.container, ref.name
        )
        points = [_point(model.as_dict()) for model in models]
    return sorted(points, key=lambda p: p.time, reverse=True)


def _point(raw: dict[str, Any]) -> RecoveryPoint:
    props = raw.get("properties") or {}
    return RecoveryPoint(
        id=str(raw.get("id") or ""),
        time=str(props.get("recovery_point_time") or props.get("recoveryPointTime") or ""),
        type=str(props.get("recovery_point_type") or props.get("recoveryPointType") or ""),
    )
