"""The replicated item JSON (shaped like the recorded ``a2a_rpi_after_failover_commit.json``) and its
recovery points. ``fabricObjectId`` and ``diskId`` are lowercased, as the recording shows."""

from __future__ import annotations

import uuid
from typing import Any

from emulator import simulation as sim
from emulator.clock import NO_SCENARIO_TIME, SimClock
from emulator.state import Item, ItemDisk, Vault, World
from emulator.views_asr import T_CONTAINER, container_id, fabric_id, health_errors, policy_id

T_ITEM = f"{T_CONTAINER}/replicationProtectedItems"
T_POINT = f"{T_ITEM}/recoveryPoints"
GIB = 1024**3


def item_id(vault: Vault, item: Item) -> str:
    """The item's current id (changes when reprotect moves it)."""
    return f"{container_id(vault, vault.fabrics[item.fabric.lower()])}/replicationProtectedItems/{item.name}"


def _lower(value: str | None) -> str | None:
    return value.lower() if value else value


def _monitoring(item: Item, now: float) -> tuple[int | None, str | None]:
    if item.resync_start is None:
        return None, None
    return sim.resync_percent(now - item.resync_start, item.resync_s), "InitialReplication"


def _managed_disk(item: Item, disk: ItemDisk, percent: int | None, kind: str | None) -> dict[str, Any]:
    return {
        "diskId": _lower(disk.disk_id),
        "recoveryResourceGroupId": disk.recovery_rg_id,
        "recoveryTargetDiskId": disk.recovery_target_disk_id,
        "recoveryReplicaDiskId": disk.recovery_replica_disk_id or "",
        "recoveryOrignalTargetDiskId": _lower(disk.recovery_target_disk_id),
        "recoveryReplicaDiskAccountType": disk.replica_sku,
        "recoveryTargetDiskAccountType": disk.target_sku,
        "recoveryDiskEncryptionSetId": disk.recovery_des_id,
        "primaryDiskEncryptionSetId": disk.primary_des_id,
        "diskName": disk.name,
        "diskCapacityInBytes": int(disk.size_gib * GIB),
        "primaryStagingAzureStorageAccountId": disk.staging_account_id,
        "diskType": disk.disk_type,
        "resyncRequired": False,
        "monitoringPercentageCompletion": percent,
        "monitoringJobType": kind,
        "dataPendingInStagingStorageAccountInMB": 0.0,
        "dataPendingAtSourceAgentInMB": 0.0,
        "diskState": None,
        "allowedDiskLevelOperation": None,
        "isDiskEncrypted": bool(disk.ade_secret),
        "secretIdentifier": disk.ade_secret,
        "dekKeyVaultArmId": disk.ade_vault_id,
        "isDiskKeyEncrypted": bool(disk.ade_kek),
        "keyIdentifier": disk.ade_kek,
        "kekKeyVaultArmId": disk.ade_kek_vault_id,
        "failoverDiskName": disk.failover_disk_name,
        "tfoDiskName": f"{disk.failover_disk_name}-ASRtest",
    }


def _vhd_disk(disk: ItemDisk, percent: int | None, kind: str | None) -> dict[str, Any]:
    return {
        "diskUri": disk.disk_uri,
        "recoveryAzureStorageAccountId": disk.recovery_account_id,
        "primaryDiskAzureStorageAccountId": disk.primary_account_id,
        "recoveryDiskUri": disk.recovery_disk_uri,
        "diskName": disk.name,
        "diskCapacityInBytes": int(disk.size_gib * GIB),
        "primaryStagingAzureStorageAccountId": disk.staging_account_id,
        "diskType": disk.disk_type,
        "resyncRequired": False,
        "monitoringPercentageCompletion": percent,
        "monitoringJobType": kind,
        "dataPendingInStagingStorageAccountInMB": 0.0,
        "dataPendingAtSourceAgentInMB": 0.0,
        "isDiskEncrypted": False,
        "isDiskKeyEncrypted": False,
        "failoverDiskName": disk.failover_disk_name,
        "tfoDiskName": f"{disk.failover_disk_name}-ASRtest",
    }


def _nics(item: Item) -> list[dict[str, Any]]:
    return [
        {
            "nicId": nic.nic_id,
            "sourceNicArmId": nic.source_nic_id,
            "vMNetworkName": nic.network_id,
            "recoveryVMNetworkId": _lower(nic.recovery_network_id),
            "ipConfigs": [
                {
                    "name": "ipconfig1",
                    "isPrimary": True,
                    "subnetName": nic.subnet,
                    "staticIPAddress": nic.ip,
                    "ipAddressType": "Dynamic",
                    "isSeletedForFailover": True,
                    "recoverySubnetName": nic.subnet,
                    "recoveryStaticIPAddress": "",
                    "recoveryIPAddressType": "Dynamic",
                }
            ],
            "selectionType": "SelectedByUser",
            "enableAcceleratedNetworkingOnRecovery": False,
            "reuseExistingNic": False,
            "tfoReuseExistingNic": False,
        }
        for nic in item.nics
    ]


def _a2a(world: World, vault: Vault, item: Item, clock: SimClock, now: float) -> dict[str, Any]:
    primary, recovery = vault.fabrics[item.fabric.lower()], vault.fabrics[item.recovery_fabric.lower()]
    percent, kind = _monitoring(item, now)
    protected = item.protection_state == "Protected"
    return {
        "instanceType": "A2A",
        "fabricObjectId": _lower(item.source_vm_id),
        "initialPrimaryZone": "",
        "initialPrimaryFabricLocation": item.initial_primary_location,
        "initialRecoveryZone": "",
        "initialRecoveryFabricLocation": item.initial_recovery_location,
        "multiVmGroupId": item.guids["group"],
        "multiVmGroupName": "",
        "multiVmGroupCreateOption": "AutoCreated",
        "managementId": item.guids["management"],
        "protectedDisks": [_vhd_disk(d, percent, kind) for d in item.disks] if item.unmanaged else None,
        "unprotectedDisks": None,
        "protectedManagedDisks": None
        if item.unmanaged
        else [_managed_disk(item, d, percent, kind) for d in item.disks],
        "recoveryBootDiagStorageAccountId": None,
        "primaryFabricLocation": primary.location,
        "recoveryFabricLocation": recovery.location,
        "osType": item.os_type,
        "recoveryAzureVMSize": item.vm_size,
        "recoveryAzureVMName": item.vm_name,
        "recoveryAzureResourceGroupId": item.recovery_rg_id,
        "recoveryCloudService": None,
        "recoveryAvailabilitySet": item.recovery_avset_id,
        "selectedRecoveryAzureNetworkId": _lower(item.recovery_network_id),
        "selectedTfoAzureNetworkId": _lower(item.test_network_id),
        "vmNics": _nics(item),
        "monitoringPercentageCompletion": percent,
        "monitoringJobType": kind,
        "lastHeartbeat": clock.iso(now - 30) if protected or percent is not None else clock.iso(-6 * 3600.0),
        "agentVersion": "9.65.7397.1",
        "agentExpiryDate": "9999-12-31T23:59:59.9999999Z",
        "isReplicationAgentUpdateRequired": False,
        "isReplicationAgentCertificateUpdateRequired": False,
        "recoveryFabricObjectId": _lower(item.running_vm_id),
        "vmProtectionState": item.protection_state,
        "vmProtectionStateDescription": item.protection_state_description,
        "lifecycleId": item.guids["lifecycle"],
        "testFailoverRecoveryFabricObjectId": _lower(item.test_vm_id),
        "rpoInSeconds": 46 if protected else None,
        "lastRpoCalculatedTime": clock.iso(now - 20) if protected else None,
        "rtoInSeconds": None,
        "primaryAvailabilityZone": None,
        "recoveryAvailabilityZone": None,
        "vmEncryptionType": item.encryption_type,
        "tfoAzureVMName": f"{item.vm_name}-test",
        "recoveryAzureGeneration": "V2",
        "recoveryProximityPlacementGroupId": item.recovery_ppg_id,
        "autoProtectionOfDataDisk": "Disabled",
        "recoveryVirtualMachineScaleSetId": item.scale_set_id,
        "recoveryCapacityReservationGroupId": None,
        "churnOptionSelected": "Normal",
    }


def _failover_point(vault: Vault, item: Item) -> str | None:
    if item.failover_point_id:
        return item.failover_point_id
    return f"{item_id(vault, item)}/recoveryPoints/{item.guids['rp']}" if item.last_failover_at is not None else None


def item_json(world: World, vault: Vault, item: Item, clock: SimClock, now: float) -> dict[str, Any]:
    """The full replicated item."""
    primary, recovery = vault.fabrics[item.fabric.lower()], vault.fabrics[item.recovery_fabric.lower()]
    # Replication only suffers from an outage while it runs (a committed failover replicates nothing).
    replicating = item.protection_state in ("Protected", "UnprotectedStatesBegin")
    outage = health_errors(world, recovery.location, clock) + health_errors(world, primary.location, clock)
    outage = outage if replicating else []
    job_id = item.scenario_job_id or f"{vault.id}/replicationJobs/None"
    return {
        "id": item_id(vault, item),
        "name": item.name,
        "type": T_ITEM,
        "location": None,
        "properties": {
            "friendlyName": item.vm_name,
            "protectedItemType": "",
            "protectableItemId": None,
            "recoveryServicesProviderId": f"{fabric_id(vault, primary)}/replicationRecoveryServicesProviders/"
            f"{item.guids['provider']}",
            "primaryFabricFriendlyName": primary.friendly_name,
            "primaryFabricProvider": "AzureFabric",
            "recoveryFabricFriendlyName": recovery.friendly_name,
            "recoveryFabricId": fabric_id(vault, recovery),
            "primaryProtectionContainerFriendlyName": primary.container,
            "recoveryProtectionContainerFriendlyName": recovery.container,
            "protectionState": item.protection_state,
            "protectionStateDescription": item.protection_state_description,
            "activeLocation": item.active_location,
            "testFailoverState": item.test_failover_state,
            "testFailoverStateDescription": item.test_failover_state_description,
            "switchProviderState": "None",
            "switchProviderStateDescription": None,
            "allowedOperations": list(item.allowed_operations),
            "replicationHealth": "Critical" if outage else "Normal",
            "failoverHealth": "Normal",
            "healthErrors": outage,
            "policyId": policy_id(vault, item.policy),
            "policyFriendlyName": item.policy,
            "lastSuccessfulFailoverTime": clock.iso(item.last_failover_at),
            "lastSuccessfulTestFailoverTime": clock.iso(item.last_test_failover_at),
            "currentScenario": {
                "scenarioName": item.scenario_name,
                "jobId": job_id,
                "startTime": clock.iso(item.scenario_start) if item.scenario_start is not None else NO_SCENARIO_TIME,
            },
            "failoverRecoveryPointId": _failover_point(vault, item),
            "providerSpecificDetails": _a2a(world, vault, item, clock, now),
            "recoveryContainerId": container_id(vault, recovery),
            "eventCorrelationId": item.guids["event"],
        },
    }


def recovery_points(vault: Vault, item: Item, clock: SimClock, now: float) -> list[dict[str, Any]]:
    """Recovery points per the item's policy, newest first: while protected, and after a failover until it is
    committed (no new points once failed over; README "The whole cycle")."""
    pending = item.protection_state == "UnplannedFailoverCommitPendingStatesBegin" and item.last_failover_at is not None
    if item.protected_at is None or (item.protection_state != "Protected" and not pending):
        return []
    if pending and item.last_failover_at is not None:
        now = min(now, item.last_failover_at)
    policy = vault.policies.get(item.policy.lower())
    crash, app, history = (
        (
            policy.crash_consistent_minutes,
            policy.app_consistent_minutes,
            policy.recovery_point_history_minutes,
        )
        if policy
        else (5, 240, 1440)
    )
    points = sim.recovery_point_times(
        item.protected_at, now, crash_minutes=crash, app_minutes=app, history_minutes=history
    )
    base = item_id(vault, item)
    out = []
    for at, kind in points:
        name = str(uuid.uuid5(uuid.UUID(item.guids["lifecycle"]), f"{at:.0f}"))
        out.append(
            {
                "id": f"{base}/recoveryPoints/{name}",
                "name": name,
                "type": T_POINT,
                "location": None,
                "properties": {
                    "recoveryPointTime": clock.iso(at),
                    "recoveryPointType": kind,
                    "providerSpecificDetails": {
                        "instanceType": "A2A",
                        "recoveryPointSyncType": "PerVmRecoveryPoint",
                    },
                },
            }
        )
    return out
