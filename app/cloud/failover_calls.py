"""The Site Recovery calls of the failover home over the SDK: unplanned failover and its commit.

Driven as Azure PowerShell's ``Start-AzRecoveryServicesAsrUnplannedFailoverJob`` does for A2A
(``StartAzureRmRecoveryServicesAsrUnPlannedFailover.cs``: ``UnplannedFailoverInputProperties`` with
``FailoverDirection`` (its mandatory -Direction), ``SourceSiteOperations = "Required"`` for
-PerformSourceSideAction (shut the source VM down first) and ``A2AUnplannedFailoverInput { RecoveryPointId }``,
null for the latest processed point) and ``Start-AzRecoveryServicesAsrCommitFailoverJob`` (``FailoverCommit``,
no body); models of azure-mgmt-recoveryservicessiterecovery 2.0.0. Never waits: the job's steps poll the ASR job.
"""

from __future__ import annotations

from azure.mgmt.recoveryservicessiterecovery import SiteRecoveryManagementClient
from azure.mgmt.recoveryservicessiterecovery.models import (
    A2AUnplannedFailoverInput,
    UnplannedFailoverInput,
    UnplannedFailoverInputProperties,
)

from app.cloud.drill_calls import start_item_operation
from app.cloud.ids import ItemRef
from app.cloud.types import UnplannedFailoverSpec


def unplanned_failover(client: SiteRecoveryManagementClient, spec: UnplannedFailoverSpec) -> str:
    """Start an unplanned failover of ``spec.item`` in ``spec.failover_direction``; the ASR job's name."""
    body = UnplannedFailoverInput(
        properties=UnplannedFailoverInputProperties(
            failover_direction=spec.failover_direction,
            source_site_operations=spec.source_site_operations,
            provider_specific_details=A2AUnplannedFailoverInput(recovery_point_id=spec.recovery_point_id),
        )
    )
    begin = client.replication_protected_items.begin_unplanned_failover
    return start_item_operation(begin, spec.item, body, "the failover")


def failover_commit(client: SiteRecoveryManagementClient, ref: ItemRef) -> str:
    """Commit ``ref``'s failover (no body); the ASR job's name."""
    return start_item_operation(client.replication_protected_items.begin_failover_commit, ref, None, "the commit")
