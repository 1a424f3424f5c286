"""What the rest of the cycle does to ARM resources: the test VM (with its NIC and ``-ASRtest`` disks) in the
isolated test network and its removal, the source VM shut down, the VM in the recovery region started."""

from __future__ import annotations

from emulator import arm_resources as arm
from emulator import ids
from emulator.state import Item, Resource, Vault, World


def _recovery_group(item: Item) -> tuple[str, str]:
    ref = ids.parse(item.running_vm_id) if item.running_vm_id else None
    if ref is not None:
        return ref.subscription, ref.group
    parts = (item.recovery_rg_id or "").strip("/").split("/")
    return parts[1], parts[3]


def create_test_vm(world: World, vault: Vault, item: Item, network_id: str) -> list[str]:
    """The test VM ``{vm}-test`` (A2A ``tfoAzureVMName``) in the recovery region, its NIC in the test network's
    ``default`` subnet and its disks named ``tfoDiskName``; running. Returns every id created."""
    location = vault.fabrics[item.recovery_fabric.lower()].location
    sub, group = _recovery_group(item)
    name = f"{item.vm_name}-test"
    vm_id = ids.resource_id(sub, group, arm.VM, name)
    ip = item.nics[0].ip if item.nics else "10.0.0.4"
    nic = arm.make_nic(sub, group, f"{name}-nic", location, subnet_id=f"{network_id}/subnets/default", ip=ip)
    made: list[Resource] = [nic]
    profile: list[arm.VmDisk] = []
    for index, disk in enumerate(item.disks):
        test_name = f"{disk.failover_disk_name or disk.name}-ASRtest"
        os_type = item.os_type if disk.disk_type == "OperatingSystem" else None
        sku = disk.target_sku or disk.sku
        made.append(
            arm.make_disk(
                sub, group, test_name, location, size_gib=disk.size_gib, sku=sku, managed_by=vm_id, os_type=os_type
            )
        )
        test_disk_id = ids.resource_id(sub, group, arm.DISK, test_name)
        profile.append(
            arm.VmDisk(test_name, disk.disk_type, disk.size_gib, sku, managed_id=test_disk_id, lun=index - 1)
        )
    made.append(
        arm.make_vm(
            sub,
            group,
            name,
            location,
            vm_guid=item.guids["lifecycle"][:-4] + "7e57",
            size=item.vm_size,
            os_type=item.os_type,
            disks=profile,
            nic_ids=[nic.id],
        )
    )
    world.add_group(sub, group, location)
    for resource in made:
        world.put(resource)
    item.test_vm_id = vm_id
    item.artifacts["test_failover"] = [r.id for r in made]
    return [r.id for r in made]


def delete_test_vm(world: World, item: Item) -> list[str]:
    """Remove what the test failover created; the ids removed."""
    created = item.artifacts.pop("test_failover", [])
    removed = [arm_id for arm_id in created if world.delete(arm_id) is not None]
    item.test_vm_id = None
    return removed


def power(world: World, vm_id: str | None, state: str) -> None:
    """Set a VM's power state (``running`` / ``deallocated``), if it exists."""
    vm = world.get(vm_id)
    if vm is not None:
        vm.power_state = state


def ensure_recovery_vm(world: World, vault: Vault, item: Item) -> str:
    """The VM in the recovery region that failover brings up: the one reprotect left (deallocated), else a
    new one on the recovery disks. Returns its id."""
    if item.running_vm_id and world.get(item.running_vm_id) is not None:
        return item.running_vm_id
    location = vault.fabrics[item.recovery_fabric.lower()].location
    sub, group = _recovery_group(item)
    profile = [
        arm.VmDisk(
            d.name, d.disk_type, d.size_gib, d.target_sku or d.sku, managed_id=d.recovery_target_disk_id, lun=i - 1
        )
        for i, d in enumerate(item.disks)
    ]
    vm = arm.make_vm(
        sub,
        group,
        item.vm_name,
        location,
        vm_guid=item.guids["lifecycle"],
        size=item.vm_size,
        os_type=item.os_type,
        disks=profile,
        nic_ids=[],
        power="deallocated",
    )
    world.add_group(sub, group, location)
    world.put(vm)
    item.running_vm_id = vm.id
    item.artifacts["failover_vm"] = vm.id
    return vm.id
