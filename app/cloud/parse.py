"""Pure translation between Site Recovery's JSON (camelCase, as on the wire) and the service's shapes."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from app.cloud.ids import name_of, parent_of, parse_item_id
from app.cloud.types import (
    AsrError,
    AsrJob,
    AsrTask,
    AvailabilityStatus,
    ContainerMapping,
    Disk,
    DiskEncryptionSet,
    DiskKeys,
    DiskReplication,
    Fabric,
    ManagedDisk,
    NameAvailability,
    NetworkMapping,
    ReplicatedItem,
    Resource,
    StorageAccount,
    StorageAccountSpec,
    SwitchProtectionSpec,
    VirtualMachine,
)
from app.errors import CloudPermanent, InvalidRequest

T = TypeVar("T")


def _dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def _str(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None


def azure_id(read: Callable[[str], T], arm_id: object) -> T:
    """Read an ARM id Azure returned: one the service cannot read is Azure's answer going wrong, never the
    caller's input (``InvalidRequest`` is for what callers send)."""
    try:
        return read(str(arm_id))
    except InvalidRequest as exc:
        raise CloudPermanent(
            f"Azure returned an id the service cannot read: {arm_id!r}.", code="unreadable_azure_answer"
        ) from exc


def item(raw: dict[str, Any]) -> ReplicatedItem:
    """A replicated item from its ARM JSON."""
    props = _dict(raw.get("properties"))
    details = _dict(props.get("providerSpecificDetails"))
    scenario = _dict(props.get("currentScenario"))
    nics = [_dict(n) for n in _list(details.get("vmNics"))]
    job_id = _str(scenario.get("jobId"))
    percent = details.get("monitoringPercentageCompletion")
    return ReplicatedItem(
        ref=azure_id(parse_item_id, raw.get("id")),
        vm_name=str(props.get("friendlyName") or raw.get("name")),
        protection_state=str(props.get("protectionState") or ""),
        protection_state_description=str(props.get("protectionStateDescription") or ""),
        active_location=str(props.get("activeLocation") or ""),
        allowed_operations=tuple(str(op) for op in _list(props.get("allowedOperations"))),
        current_scenario=str(scenario.get("scenarioName") or "None"),
        current_job_id=None if job_id is None or job_id.lower().endswith("/none") else job_id,
        replication_health=str(props.get("replicationHealth") or ""),
        primary_fabric_name=str(props.get("primaryFabricFriendlyName") or ""),
        recovery_fabric_name=str(props.get("recoveryFabricFriendlyName") or ""),
        primary_location=str(details.get("primaryFabricLocation") or ""),
        recovery_location=str(details.get("recoveryFabricLocation") or ""),
        source_vm_id=_str(details.get("fabricObjectId")),
        running_vm_id=_str(details.get("recoveryFabricObjectId")),
        recovery_resource_group_id=_str(details.get("recoveryAzureResourceGroupId")),
        recovery_availability_set_id=_str(details.get("recoveryAvailabilitySet")),
        primary_network_id=_str(nics[0].get("vMNetworkName")) if nics else None,
        running_network_id=_str(details.get("selectedRecoveryAzureNetworkId"))
        or (_str(nics[0].get("recoveryVMNetworkId")) if nics else None),
        disks=tuple(_disk(_dict(d)) for d in _list(details.get("protectedManagedDisks"))),
        monitoring_percent=int(percent) if isinstance(percent, int | float) else None,
        policy_id=_str(props.get("policyId")),
        vm_encryption_type=str(details.get("vmEncryptionType") or "NotEncrypted"),
        unmanaged_disk_count=len(_list(details.get("protectedDisks"))),
        test_failover_state=str(props.get("testFailoverState") or "None"),
        initial_primary_location=str(details.get("initialPrimaryFabricLocation") or ""),
    )


def _disk(raw: dict[str, Any]) -> ManagedDisk:
    disk_id = str(raw.get("diskId") or "")
    return ManagedDisk(
        disk_id=disk_id,
        in_use_disk_id=str(raw.get("recoveryTargetDiskId") or disk_id),
        name=str(raw.get("diskName") or (azure_id(name_of, disk_id) if disk_id else "")),
        capacity_bytes=int(raw.get("diskCapacityInBytes") or 0),
        target_disk_type=_str(raw.get("recoveryTargetDiskAccountType")),
        replica_disk_type=_str(raw.get("recoveryReplicaDiskAccountType")),
        disk_type=str(raw.get("diskType") or "Data"),
        primary_disk_encryption_set_id=_str(raw.get("primaryDiskEncryptionSetId")),
        recovery_disk_encryption_set_id=_str(raw.get("recoveryDiskEncryptionSetId")),
        ade_encrypted=raw.get("isDiskEncrypted") is True,
        ade_keys=_keys(
            raw.get("secretIdentifier"),
            raw.get("dekKeyVaultArmId"),
            raw.get("keyIdentifier") if raw.get("isDiskKeyEncrypted") is True else None,
            raw.get("kekKeyVaultArmId") if raw.get("isDiskKeyEncrypted") is True else None,
        ),
    )


def _keys(secret_url: Any, secret_vault: Any, key_url: Any, key_vault: Any) -> DiskKeys | None:
    """ADE keys when the secret and its vault are both named (a KEK only counts as a pair, as PowerShell's)."""
    secret, vault = _str(secret_url), _str(secret_vault)
    if secret is None or vault is None:
        return None
    kek, kek_vault = _str(key_url), _str(key_vault)
    if kek is None or kek_vault is None:
        kek = kek_vault = None
    return DiskKeys(secret_url=secret, secret_vault_id=vault, key_url=kek, key_vault_id=kek_vault)


def fabric(raw: dict[str, Any]) -> Fabric:
    """A fabric from its ARM JSON."""
    props = _dict(raw.get("properties"))
    errors = tuple(
        str(_dict(e).get("errorMessage") or _dict(e).get("summaryMessage") or _dict(e).get("errorCode") or "")
        for e in _list(props.get("healthErrorDetails"))
    )
    return Fabric(
        name=str(raw.get("name")),
        friendly_name=str(props.get("friendlyName") or raw.get("name")),
        location=str(_dict(props.get("customDetails")).get("location") or ""),
        health=str(props.get("health") or "Normal"),
        health_errors=errors,
    )


def container_mapping(raw: dict[str, Any]) -> ContainerMapping:
    """A protection container mapping; its source container is the parent of its id."""
    props = _dict(raw.get("properties"))
    # The mapping lives under its source container: .../replicationProtectionContainerMappings/{name}.
    source = azure_id(parent_of, raw.get("id"))
    return ContainerMapping(
        source_container_id=source,
        target_container_id=str(props.get("targetProtectionContainerId") or ""),
        policy_id=_str(props.get("policyId")),
        state=str(props.get("state") or ""),
    )


def network_mapping(raw: dict[str, Any]) -> NetworkMapping:
    """A network mapping from its ARM JSON."""
    props = _dict(raw.get("properties"))
    return NetworkMapping(
        primary_network_id=str(props.get("primaryNetworkId") or ""),
        recovery_network_id=str(props.get("recoveryNetworkId") or ""),
        state=str(props.get("state") or ""),
    )


def job(raw: dict[str, Any]) -> AsrJob:
    """An ASR job from its ARM JSON."""
    props = _dict(raw.get("properties"))
    custom = _dict(props.get("customDetails"))
    return AsrJob(
        id=str(raw.get("id")),
        name=str(raw.get("name")),
        state=str(props.get("state") or ""),
        state_description=str(props.get("stateDescription") or ""),
        allowed_actions=tuple(str(a) for a in _list(props.get("allowedActions"))),
        tasks=tuple(_task(_dict(t)) for t in _list(props.get("tasks"))),
        errors=tuple(_error(_dict(e)) for e in _list(props.get("errors"))),
        new_item_id=_str(custom.get("newReplicationProtectedItemId")),
        start_time=_str(props.get("startTime")),
        end_time=_str(props.get("endTime")),
        scenario_name=str(props.get("scenarioName") or ""),
        target_object_name=str(props.get("targetObjectName") or ""),
    )


def _error(raw: dict[str, Any]) -> AsrError:
    """One ``JobErrorDetails``: ASR's ``serviceErrorDetails`` and the provider's ``providerErrorDetails``
    (an integer ``errorCode``); a side Azure leaves out (null) is filled from the other where it can be."""
    service = _dict(raw.get("serviceErrorDetails"))
    provider = _dict(raw.get("providerErrorDetails"))
    provider_code = _int(provider.get("errorCode"))
    return AsrError(
        code=_str(service.get("code"))
        or _str(raw.get("errorCode"))
        or (str(provider_code) if provider_code is not None else None),
        message=str(service.get("message") or raw.get("errorMessage") or provider.get("errorMessage") or ""),
        possible_causes=_str(service.get("possibleCauses")) or _str(provider.get("possibleCauses")),
        recommended_action=_str(service.get("recommendedAction")) or _str(provider.get("recommendedAction")),
        provider_code=provider_code,
        provider_message=_str(provider.get("errorMessage")),
        task_id=_str(raw.get("taskId")),
    )


def _int(value: Any) -> int | None:
    """An integer code as the SDK model types it; a numeric string is read too, anything else is ``None``."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    return int(value) if isinstance(value, str) and value.strip().lstrip("-").isdigit() else None


def _task(raw: dict[str, Any]) -> AsrTask:
    return AsrTask(
        task_id=str(raw.get("taskId") or raw.get("name") or ""),
        name=str(raw.get("friendlyName") or raw.get("name") or ""),
        state=str(raw.get("state") or ""),
        state_description=str(raw.get("stateDescription") or ""),
        start_time=_real_time(raw.get("startTime")),
        end_time=_real_time(raw.get("endTime")),
    )


def _real_time(value: Any) -> str | None:
    # ASR writes "0001-01-01T00:00:00" for tasks that never ran.
    text = _str(value)
    return None if text is None or text.startswith("0001-") else text


def switch_protection_body(spec: SwitchProtectionSpec) -> dict[str, Any]:
    """The ``SwitchProtectionInput`` JSON for A2A managed disks, as Azure PowerShell sends it."""
    details: dict[str, Any] = {
        "instanceType": "A2A",
        "recoveryContainerId": spec.recovery_container_id,
        "policyId": spec.policy_id,
        "recoveryResourceGroupId": spec.recovery_resource_group_id,
        "vmDisks": [],
        "vmManagedDisks": [_disk_input(d) for d in spec.disks],
    }
    if spec.availability_set_id:
        details["recoveryAvailabilitySetId"] = spec.availability_set_id
    if spec.proximity_placement_group_id:
        details["recoveryProximityPlacementGroupId"] = spec.proximity_placement_group_id
    if spec.scale_set_id:
        details["recoveryVirtualMachineScaleSetId"] = spec.scale_set_id
    if spec.disk_encryption:
        details["diskEncryptionInfo"] = _encryption_info(spec.disk_encryption)
    return {"properties": {"replicationProtectedItemName": spec.item.name, "providerSpecificDetails": details}}


def _encryption_info(keys: DiskKeys) -> dict[str, Any]:
    """``DiskEncryptionInfo``: the secret with its vault, and the key encryption key only as a pair."""
    info: dict[str, Any] = {
        "diskEncryptionKeyInfo": {"secretIdentifier": keys.secret_url, "keyVaultResourceArmId": keys.secret_vault_id}
    }
    if keys.key_url and keys.key_vault_id:
        info["keyEncryptionKeyInfo"] = {"keyIdentifier": keys.key_url, "keyVaultResourceArmId": keys.key_vault_id}
    return info


def _disk_input(disk: DiskReplication) -> dict[str, Any]:
    """``A2AVmManagedDiskInputDetails`` for one disk."""
    entry: dict[str, Any] = {
        "diskId": disk.disk_id,
        "primaryStagingAzureStorageAccountId": disk.staging_account_id,
        "recoveryResourceGroupId": disk.recovery_resource_group_id,
    }
    if disk.replica_disk_type:
        entry["recoveryReplicaDiskAccountType"] = disk.replica_disk_type
    if disk.target_disk_type:
        entry["recoveryTargetDiskAccountType"] = disk.target_disk_type
    if disk.disk_encryption_set_id:
        entry["recoveryDiskEncryptionSetId"] = disk.disk_encryption_set_id
    if disk.keys:
        entry["diskEncryptionInfo"] = _encryption_info(disk.keys)
    return entry


def resource(raw: dict[str, Any]) -> Resource:
    """A plain ARM resource: id, name, location (a resource group's answer has the same three)."""
    arm_id = str(raw.get("id") or "")
    name = raw.get("name") or azure_id(name_of, arm_id)
    return Resource(id=arm_id, name=str(name), location=str(raw.get("location") or ""))


def storage_account(raw: dict[str, Any]) -> StorageAccount:
    """A storage account from its ARM JSON (``Microsoft.Storage/storageAccounts``)."""
    base = resource(raw)
    props = _dict(raw.get("properties"))
    shared_key = props.get("allowSharedKeyAccess")
    return StorageAccount(
        id=base.id,
        name=base.name,
        location=base.location,
        kind=str(raw.get("kind") or ""),
        sku=str(_dict(raw.get("sku")).get("name") or ""),
        provisioning_state=str(props.get("provisioningState") or ""),
        allow_shared_key_access=shared_key if isinstance(shared_key, bool) else None,
    )


def storage_account_body(spec: StorageAccountSpec) -> dict[str, Any]:
    """``StorageAccountCreateParameters`` as the portal sends them for a new cache account."""
    return {
        "location": spec.location,
        "kind": spec.kind,
        "sku": {"name": spec.sku},
        "properties": {
            "minimumTlsVersion": spec.minimum_tls_version,
            "allowBlobPublicAccess": spec.allow_blob_public_access,
            "supportsHttpsTrafficOnly": True,
        },
    }


def name_availability(raw: dict[str, Any]) -> NameAvailability:
    """``CheckNameAvailabilityResult``: nameAvailable, reason, message."""
    return NameAvailability(
        available=bool(raw.get("nameAvailable")), reason=_str(raw.get("reason")), message=_str(raw.get("message"))
    )


def virtual_machine(raw: dict[str, Any]) -> VirtualMachine:
    """A VM from its ARM JSON: where it is, its availability set and its managed disks (OS disk first)."""
    props = _dict(raw.get("properties"))
    profile = _dict(props.get("storageProfile"))
    disks = [_dict(profile.get("osDisk")), *(_dict(d) for d in _list(profile.get("dataDisks")))]
    arm_id = str(raw.get("id") or "")
    return VirtualMachine(
        id=arm_id,
        name=str(raw.get("name") or azure_id(name_of, arm_id)),
        location=str(raw.get("location") or ""),
        availability_set_id=_str(_dict(props.get("availabilitySet")).get("id")),
        disk_ids=tuple(str(d["managedDisk"]["id"]) for d in disks if _str(_dict(d.get("managedDisk")).get("id"))),
        scale_set_id=_str(_dict(props.get("virtualMachineScaleSet")).get("id")),
    )


def managed_disk(raw: dict[str, Any]) -> Disk:
    """A Compute disk: its location, disk encryption set and Azure Disk Encryption settings (first entry)."""
    props = _dict(raw.get("properties"))
    collection = _dict(props.get("encryptionSettingsCollection"))
    settings = [_dict(e) for e in _list(collection.get("encryptionSettings"))]
    keys = None
    if collection.get("enabled") is True and settings:
        dek, kek = _dict(settings[0].get("diskEncryptionKey")), _dict(settings[0].get("keyEncryptionKey"))
        keys = _keys(
            dek.get("secretUrl"),
            _dict(dek.get("sourceVault")).get("id"),
            kek.get("keyUrl"),
            _dict(kek.get("sourceVault")).get("id"),
        )
    return Disk(
        id=str(raw.get("id") or ""),
        location=str(raw.get("location") or ""),
        disk_encryption_set_id=_str(_dict(props.get("encryption")).get("diskEncryptionSetId")),
        ade_keys=keys,
    )


def disk_encryption_set(raw: dict[str, Any]) -> DiskEncryptionSet:
    """A disk encryption set: its location and the key vault of its active key."""
    active = _dict(_dict(raw.get("properties")).get("activeKey"))
    return DiskEncryptionSet(
        id=str(raw.get("id") or ""),
        location=str(raw.get("location") or ""),
        key_vault_id=_str(_dict(active.get("sourceVault")).get("id")),
    )


def availability_status(raw: dict[str, Any], resource_id: str) -> AvailabilityStatus:
    """Resource Health's ``availabilityStatus`` JSON (``AvailabilityStatus_GetByResource``) as Azure said it."""
    props = _dict(raw.get("properties"))
    return AvailabilityStatus(
        resource_id=resource_id,
        state=str(props.get("availabilityState") or "Unknown"),
        title=_str(props.get("title")),
        summary=_str(props.get("summary")),
        detailed_status=_str(props.get("detailedStatus")),
        reason_type=_str(props.get("reasonType")),
        context=_str(props.get("context")),
        category=_str(props.get("category")),
        health_event_cause=_str(props.get("healthEventCause")),
        health_event_category=_str(props.get("healthEventCategory")),
        occurred_time=_str(props.get("occuredTime")) or _str(props.get("occurredTime")),
    )
