"""Builders for the plain ARM resources the emulator serves: VMs, disks, storage, networks, placement."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from emulator import ids
from emulator.state import Resource

VM = "Microsoft.Compute/virtualMachines"
DISK = "Microsoft.Compute/disks"
AVSET = "Microsoft.Compute/availabilitySets"
PPG = "Microsoft.Compute/proximityPlacementGroups"
STORAGE = "Microsoft.Storage/storageAccounts"
VNET = "Microsoft.Network/virtualNetworks"
NIC = "Microsoft.Network/networkInterfaces"
KEY_VAULT = "Microsoft.KeyVault/vaults"
DES = "Microsoft.Compute/diskEncryptionSets"
VMSS = "Microsoft.Compute/virtualMachineScaleSets"

_POWER_TEXT = {"running": "VM running", "stopped": "VM stopped", "deallocated": "VM deallocated"}


@dataclass(frozen=True)
class VmDisk:
    """A disk as a VM's storage profile names it: managed (``managed_id``) or a page blob (``vhd_uri``)."""

    name: str
    disk_type: str  # OperatingSystem | Data
    size_gib: float
    sku: str
    managed_id: str | None = None
    vhd_uri: str | None = None
    lun: int = 0


def _profile_disk(disk: VmDisk, os_type: str) -> dict[str, Any]:
    entry: dict[str, Any] = {
        "name": disk.name,
        "createOption": "Attach",
        "caching": "ReadWrite" if disk.disk_type == "OperatingSystem" else "None",
        "diskSizeGB": int(disk.size_gib),
    }
    if disk.managed_id:
        entry["managedDisk"] = {"id": disk.managed_id, "storageAccountType": disk.sku}
    else:
        entry["vhd"] = {"uri": disk.vhd_uri}
    if disk.disk_type == "OperatingSystem":
        entry["osType"] = os_type
    else:
        entry["lun"] = disk.lun
    return entry


def make_vm(
    sub: str,
    group: str,
    name: str,
    location: str,
    *,
    vm_guid: str,
    size: str,
    os_type: str,
    disks: list[VmDisk],
    nic_ids: list[str],
    avset_id: str | None = None,
    ppg_id: str | None = None,
    power: str = "running",
    scale_set_id: str | None = None,
) -> Resource:
    """A virtual machine; ``power`` shows in its instance view."""
    os_disk = next(d for d in disks if d.disk_type == "OperatingSystem")
    props: dict[str, Any] = {
        "vmId": vm_guid,
        "provisioningState": "Succeeded",
        "hardwareProfile": {"vmSize": size},
        "storageProfile": {
            "osDisk": _profile_disk(os_disk, os_type),
            "dataDisks": [_profile_disk(d, os_type) for d in disks if d.disk_type != "OperatingSystem"],
        },
        "networkProfile": {
            "networkInterfaces": [{"id": n, "properties": {"primary": i == 0}} for i, n in enumerate(nic_ids)]
        },
    }
    if avset_id:
        props["availabilitySet"] = {"id": avset_id}
    if ppg_id:
        props["proximityPlacementGroup"] = {"id": ppg_id}
    if scale_set_id:
        props["virtualMachineScaleSet"] = {"id": scale_set_id}
    vm_id = ids.resource_id(sub, group, VM, name)
    return Resource(vm_id, VM, name, location, {"properties": props}, power_state=power)


def vm_disk_ids(vm: Resource) -> list[str]:
    """Managed disk ids (or vhd uris) of a VM, OS disk first."""
    profile = vm.body.get("properties", {}).get("storageProfile", {})
    found = []
    for disk in [profile.get("osDisk", {}), *profile.get("dataDisks", [])]:
        ref = (disk.get("managedDisk") or {}).get("id") or (disk.get("vhd") or {}).get("uri")
        if ref:
            found.append(str(ref))
    return found


def instance_view(vm: Resource) -> dict[str, Any]:
    """The VM's instance view: provisioning and power state."""
    power = vm.power_state or "running"
    return {
        "statuses": [
            {
                "code": "ProvisioningState/succeeded",
                "level": "Info",
                "displayStatus": "Provisioning succeeded",
            },
            {"code": f"PowerState/{power}", "level": "Info", "displayStatus": _POWER_TEXT.get(power, power)},
        ]
    }


def make_disk(
    sub: str,
    group: str,
    name: str,
    location: str,
    *,
    size_gib: float,
    sku: str,
    os_type: str | None = None,
    managed_by: str | None = None,
    encryption: dict[str, Any] | None = None,
) -> Resource:
    """A managed disk; ``encryption`` holds ``diskEncryptionSetId`` or ``encryptionSettingsCollection``."""
    props: dict[str, Any] = {
        "diskSizeGB": int(size_gib),
        "diskSizeBytes": int(size_gib * 1024**3),
        "diskState": "Attached" if managed_by else "Unattached",
        "provisioningState": "Succeeded",
        "creationData": {"createOption": "Empty"},
    }
    if os_type:
        props["osType"] = os_type
    encryption = encryption or {}
    props["encryption"] = (
        {"type": "EncryptionAtRestWithCustomerKey", "diskEncryptionSetId": encryption["diskEncryptionSetId"]}
        if encryption.get("diskEncryptionSetId")
        else {"type": "EncryptionAtRestWithPlatformKey"}
    )
    if encryption.get("encryptionSettingsCollection"):
        props["encryptionSettingsCollection"] = encryption["encryptionSettingsCollection"]
    body: dict[str, Any] = {"sku": {"name": sku, "tier": sku.split("_")[0]}, "properties": props}
    if managed_by:
        body["managedBy"] = managed_by
    return Resource(ids.resource_id(sub, group, DISK, name), DISK, name, location, body)


def make_storage_account(
    sub: str, group: str, name: str, location: str, *, sku: str = "Standard_LRS", kind: str = "StorageV2"
) -> Resource:
    """A storage account (general-purpose v2 unless ``kind`` says otherwise)."""
    body = {
        "sku": {"name": sku, "tier": sku.split("_")[0]},
        "kind": kind,
        "properties": {
            "provisioningState": "Succeeded",
            "primaryLocation": location,
            "statusOfPrimary": "available",
            # A general-purpose account's endpoints, as in the Storage spec's StorageAccountCreate example.
            "primaryEndpoints": {
                service: f"https://{name}.{service}.core.windows.net/" for service in ("blob", "file", "queue", "table")
            },
        },
    }
    return Resource(ids.resource_id(sub, group, STORAGE, name), STORAGE, name, location, body)


def make_avset(sub: str, group: str, name: str, location: str, vm_ids: list[str] | None = None) -> Resource:
    """An aligned availability set."""
    body = {
        "sku": {"name": "Aligned"},
        "properties": {
            "platformFaultDomainCount": 2,
            "platformUpdateDomainCount": 5,
            "virtualMachines": [{"id": v} for v in vm_ids or []],
        },
    }
    return Resource(ids.resource_id(sub, group, AVSET, name), AVSET, name, location, body)


def make_ppg(sub: str, group: str, name: str, location: str) -> Resource:
    """A proximity placement group."""
    body = {"properties": {"proximityPlacementGroupType": "Standard", "virtualMachines": []}}
    return Resource(ids.resource_id(sub, group, PPG, name), PPG, name, location, body)


def make_vnet(sub: str, group: str, name: str, location: str, prefix: str) -> Resource:
    """A virtual network with one ``default`` subnet."""
    vnet_id = ids.resource_id(sub, group, VNET, name)
    body = {
        "properties": {
            "provisioningState": "Succeeded",
            "addressSpace": {"addressPrefixes": [prefix]},
            "subnets": [
                {
                    "id": f"{vnet_id}/subnets/default",
                    "name": "default",
                    "properties": {"addressPrefix": prefix},
                }
            ],
        }
    }
    return Resource(vnet_id, VNET, name, location, body)


def make_nic(sub: str, group: str, name: str, location: str, *, subnet_id: str, ip: str) -> Resource:
    """A network interface with one dynamic IP configuration."""
    nic_id = ids.resource_id(sub, group, NIC, name)
    config = {
        "name": "ipconfig1",
        "id": f"{nic_id}/ipConfigurations/ipconfig1",
        "properties": {
            "privateIPAddress": ip,
            "privateIPAllocationMethod": "Dynamic",
            "subnet": {"id": subnet_id},
        },
    }
    body = {"properties": {"provisioningState": "Succeeded", "ipConfigurations": [config]}}
    return Resource(nic_id, NIC, name, location, body)


def make_key_vault(sub: str, group: str, name: str, location: str) -> Resource:
    """A key vault enabled for disk encryption (Microsoft.KeyVault/vaults, as ARM shows it)."""
    body = {
        "properties": {
            "tenantId": "72f988bf-86f1-41af-91ab-2d7cd011db47",
            "sku": {"family": "A", "name": "standard"},
            "vaultUri": f"https://{name}.vault.azure.net/",
            "enabledForDiskEncryption": True,
            "enableSoftDelete": True,
            "provisioningState": "Succeeded",
        }
    }
    return Resource(ids.resource_id(sub, group, KEY_VAULT, name), KEY_VAULT, name, location, body)


def make_disk_encryption_set(sub: str, group: str, name: str, location: str, *, key_vault_id: str) -> Resource:
    """A disk encryption set whose active key lives in ``key_vault_id`` (Compute DiskEncryptionSet)."""
    vault = key_vault_id.rstrip("/").rsplit("/", 1)[-1]
    body = {
        "identity": {"type": "SystemAssigned", "principalId": "00000000-0000-0000-0000-000000000001"},
        "properties": {
            "encryptionType": "EncryptionAtRestWithCustomerKey",
            "activeKey": {
                "sourceVault": {"id": key_vault_id},
                "keyUrl": f"https://{vault}.vault.azure.net/keys/{name}-key/0123456789abcdef0123456789abcdef",
            },
            "provisioningState": "Succeeded",
        },
    }
    return Resource(ids.resource_id(sub, group, DES, name), DES, name, location, body)


def make_scale_set(sub: str, group: str, name: str, location: str) -> Resource:
    """A virtual machine scale set in flexible orchestration (VMs join it by ``virtualMachineScaleSet.id``)."""
    body = {
        "properties": {"orchestrationMode": "Flexible", "platformFaultDomainCount": 1, "provisioningState": "Succeeded"}
    }
    return Resource(ids.resource_id(sub, group, VMSS, name), VMSS, name, location, body)
