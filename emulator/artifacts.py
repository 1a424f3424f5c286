"""What the "Reprotecting virtual machine" task does to ARM resources: create or reuse the artifacts,
turn the target-side VM off, seed from its disks, delete it, and recreate the VM when the job ends.
Everything it decides is recorded on the item (``item.artifacts``) so it can be observed.
"""

from __future__ import annotations

import random
from typing import Any

from emulator import arm_resources as arm
from emulator import ids
from emulator import simulation as sim
from emulator.state import Item, Job, Resource, Vault, World


def target_group_id(job: Job) -> str:
    """Where the reprotected VM goes: the requested group, else the original VM's."""
    if job.request.recovery_rg_id:
        return job.request.recovery_rg_id
    ref = ids.parse(job.snapshot.source_vm_id)
    assert ref is not None
    return ids.group_id(ref.subscription, ref.group)


def _ensure_group(world: World, group_id: str, location: str) -> None:
    parts = group_id.strip("/").split("/")
    world.add_group(parts[1], parts[3], location)


def _ensure(world: World, resource: Resource) -> None:
    ref = ids.parse(resource.id)
    if ref is not None:
        world.add_group(ref.subscription, ref.group, resource.location)
    if world.get(resource.id) is None:
        world.put(resource)


def _build(kind: str, arm_id: str, location: str) -> Resource:
    ref = ids.parse(arm_id)
    assert ref is not None
    if kind == "availability_set":
        return arm.make_avset(ref.subscription, ref.group, ref.name, location)
    if kind == "proximity_placement_group":
        return arm.make_ppg(ref.subscription, ref.group, ref.name, location)
    return arm.make_storage_account(ref.subscription, ref.group, ref.name, location)


def prepare(world: World, vault: Vault, item: Item, job: Job, rng: random.Random) -> dict[str, Any]:
    """Create or reuse every artifact the request names (or implies); return the record."""
    source_location = vault.fabrics[job.snapshot.recovery_fabric.lower()].location
    target_location = vault.fabrics[job.snapshot.fabric.lower()].location
    group = target_group_id(job)
    group_ref = group.strip("/").split("/")
    record: dict[str, Any] = {
        "job": job.name,
        "target_resource_group": {
            "id": group,
            "action": "reused" if world.group(group_ref[1], group_ref[3]) else "created",
        },
    }
    _ensure_group(world, group, target_location)
    wanted: list[tuple[str, str, str]] = []
    for disk in job.request.managed_disks + job.request.vm_disks:
        # Switch protection refused any disk whose cache account is missing: ASR only ever reuses it.
        if disk.staging_account_id:
            wanted.append(("cache_storage_account", disk.staging_account_id, source_location))
    for disk in job.request.vm_disks:
        wanted.append(
            (
                "target_storage_account",
                target_account_id(job, disk.disk_uri, disk.recovery_account_id),
                target_location,
            )
        )
    if job.request.avset_id:
        wanted.append(("availability_set", job.request.avset_id, target_location))
    if job.request.ppg_id:
        wanted.append(("proximity_placement_group", job.request.ppg_id, target_location))
    existing = {k for k in world.resources if any(k == w[1].lower() for w in wanted)}
    planned = sim.plan_artifacts(wanted, existing)
    for artifact in planned:
        if artifact.action == "created":
            _ensure(world, _build(artifact.kind, artifact.id, artifact.location))
    for kind in ("cache_storage_account", "target_storage_account"):
        record[f"{kind}s"] = [{"id": a.id, "action": a.action} for a in planned if a.kind == kind]
    for kind in ("availability_set", "proximity_placement_group"):
        found = next(({"id": a.id, "action": a.action} for a in planned if a.kind == kind), None)
        record[kind] = found
    record["disks"] = [
        {
            "disk": d.disk_id or d.disk_uri,
            "replica_disk_type": d.replica_sku,
            "target_disk_type": d.target_sku,
            "recovery_resource_group": d.recovery_rg_id or group,
        }
        for d in job.request.managed_disks + job.request.vm_disks
    ]
    record["target_vm"] = {"id": job.snapshot.source_vm_id, "power_before": None, "deleted": False}
    record["seed_blobs"] = []
    record["replica_disks"] = []
    record["recreated_vm"] = None
    item.artifacts = record
    return record


def target_account_id(job: Job, disk_uri: str | None, requested: str | None) -> str:
    """Unmanaged disks: the requested target account, else ``<source account>asr`` in the target group."""
    if requested:
        return requested
    source = (disk_uri or "https://unknown.blob").split("//", 1)[-1].split(".", 1)[0]
    group = target_group_id(job).strip("/").split("/")
    return ids.resource_id(group[1], group[3], arm.STORAGE, sim.target_storage_account_name(source))


def target_vm_off(world: World, item: Item, job: Job) -> None:
    """Turn the target-side (original) VM off if it runs."""
    vm = world.get(job.snapshot.source_vm_id)
    if vm is not None:
        item.artifacts.setdefault("target_vm", {})["power_before"] = vm.power_state
        vm.power_state = "deallocated"


def seed(world: World, item: Item, job: Job, rng: random.Random) -> None:
    """Copy the target-side VM's disks into seed blobs in the cache account."""
    vm = world.get(job.snapshot.source_vm_id)
    if vm is None:
        return
    cache = next(
        (d.staging_account_id for d in job.request.managed_disks + job.request.vm_disks if d.staging_account_id),
        None,
    )
    account = cache.rsplit("/", 1)[-1] if cache else "asrseed"
    token = sim.random_token(rng, 8)
    item.artifacts["seed_blobs"] = [
        sim.seed_blob_uri(account, ref.rsplit("/", 1)[-1].removesuffix(".vhd"), token) for ref in arm.vm_disk_ids(vm)
    ]


def delete_target_vm(world: World, item: Item, job: Job) -> None:
    """Delete the target-side VM and its managed disks (kept on the job for a rollback)."""
    vm = world.delete(job.snapshot.source_vm_id)
    if vm is None:
        return
    job.removed.append(vm)
    for ref in arm.vm_disk_ids(vm):
        disk = world.delete(ref) if ref.startswith("/") else None
        if disk is not None:
            job.removed.append(disk)
    item.artifacts.setdefault("target_vm", {})["deleted"] = True


def replica_disks(world: World, item: Item, target_location: str) -> None:
    """Create the replica disks in the target region (reused when they exist)."""
    made = []
    for disk in item.disks:
        if disk.recovery_replica_disk_id is None:
            continue
        ref = ids.parse(disk.recovery_replica_disk_id)
        assert ref is not None
        action = "reused" if world.get(disk.recovery_replica_disk_id) else "created"
        _ensure(
            world,
            arm.make_disk(
                ref.subscription,
                ref.group,
                ref.name,
                target_location,
                size_gib=disk.size_gib,
                sku=disk.replica_sku or disk.sku,
            ),
        )
        made.append({"id": disk.recovery_replica_disk_id, "action": action})
    item.artifacts["replica_disks"] = made


def recreate_vm(world: World, vault: Vault, item: Item, job: Job) -> str:
    """The VM in the target region (deallocated until a failover), with target disks; returns its id."""
    target_location = vault.fabrics[item.recovery_fabric.lower()].location
    group = target_group_id(job).strip("/").split("/")
    sub, group_name = group[1], group[3]
    vm_id = ids.resource_id(sub, group_name, arm.VM, item.vm_name)
    profile: list[arm.VmDisk] = []
    for index, disk in enumerate(item.disks):
        kind = disk.disk_type
        if disk.recovery_target_disk_id:
            ref = ids.parse(disk.recovery_target_disk_id)
            assert ref is not None
            _ensure(
                world,
                arm.make_disk(
                    ref.subscription,
                    ref.group,
                    ref.name,
                    target_location,
                    size_gib=disk.size_gib,
                    sku=disk.target_sku or disk.sku,
                    managed_by=vm_id,
                    os_type=item.os_type if kind == "OperatingSystem" else None,
                ),
            )
            profile.append(
                arm.VmDisk(
                    ref.name,
                    kind,
                    disk.size_gib,
                    disk.target_sku or disk.sku,
                    managed_id=disk.recovery_target_disk_id,
                    lun=index - 1,
                )
            )
        else:
            profile.append(
                arm.VmDisk(disk.name, kind, disk.size_gib, disk.sku, vhd_uri=disk.recovery_disk_uri, lun=index - 1)
            )
    nics = [n.source_nic_id for n in job.snapshot.nics if world.get(n.source_nic_id)]
    vm = arm.make_vm(
        sub,
        group_name,
        item.vm_name,
        target_location,
        vm_guid=item.guids["lifecycle"],
        size=item.vm_size,
        os_type=item.os_type,
        disks=profile,
        nic_ids=nics,
        avset_id=job.request.avset_id,
        ppg_id=job.request.ppg_id,
        power="deallocated",
    )
    world.add_group(sub, group_name, target_location)
    world.put(vm)
    item.artifacts["recreated_vm"] = vm_id
    return vm_id


def rollback(world: World, job: Job) -> None:
    """Put back what the job deleted (ASR re-creates the target-side VM from its seed on failure)."""
    for resource in job.removed:
        if world.get(resource.id) is None:
            world.put(resource)
    job.removed.clear()
