"""Prerequisite checks for reprotect, and the resolved plan (the portal's review blade) per VM.

Each check either adds to the plan or fails with a ``VmProblem`` whose code is stable and whose
message tells the operator what to do. The same function runs in the API (before anything is
accepted) and in the worker (just before submitting), since state may change in between.
"""

from __future__ import annotations

import re
from typing import Any

from app.cloud.ids import (
    ItemRef,
    name_of,
    parse_item_id,
    parse_resource_id,
    parse_vault_id,
    resource_group_id_of,
    same_id,
    subscription_of,
)
from app.cloud.types import Cloud, ManagedDisk, ReplicatedItem, Resource, VirtualMachine
from app.errors import VmProblem
from app.job import encryption_keys
from app.job.cache_accounts import CACHE_SUFFIX, candidate_ids, unsuitable
from app.job.eta import DiskLoad, estimate_reprotect_seconds
from app.job.plan import PlannedDisk, PlannedResource, ReprotectDirection, ReprotectPlan
from app.job.region import RegionFindings, RegionRefused, inspect
from app.job.schemas import VmTarget

COMMITTED_STATES = frozenset({"unplannedfailovercommitted", "plannedfailovercommitted", "failovercommitted"})
# Codes that mean "something is running right now" (409) rather than "this cannot be done" (422).
CONFLICT_CODES = frozenset({"operation_in_progress", "vm_has_active_job"})
GIB = 1024**3


class VmCheckFailed(Exception):
    """One VM failed a prerequisite."""

    def __init__(self, problem: VmProblem):
        super().__init__(problem.message)
        self.problem = problem


def _fail(target: VmTarget, code: str, message: str, asr_error: dict[str, Any] | None = None) -> VmCheckFailed:
    return VmCheckFailed(VmProblem(vm=target.label, code=code, message=message, asr_error=asr_error))


def resolve_plan(cloud: Cloud, target: VmTarget, *, patient: bool = False) -> ReprotectPlan:
    """Check every prerequisite of reprotect for one VM and resolve what it will use and create.

    ``patient`` (workers): passing faults propagate to be retried instead of failing the check.
    """
    if target.target_network_id:
        raise _fail(
            target,
            "network_not_changeable",
            "The target virtual network cannot be changed during reprotect. Remove target_network_id; "
            "to use another network, change the vault's network mapping and reprotect again.",
        )
    item = _find_item(cloud, target)
    check_state(target, item)
    check_managed_disks(target, item)
    region = _check_target_region(cloud, target, item, patient=patient)
    source_vm = check_source_vm(cloud, target, item, region.source_vm)
    _check_running_vm(cloud, target, item)
    recovery_container_id, policy_id = _reverse_container_mapping(cloud, target, item)
    network_id = _reverse_network(cloud, target, item)
    target_rg = _target_resource_group(cloud, target, item, region.resource_group)
    cache = _cache_storage_account(cloud, target, item)
    availability_set = _availability_set(cloud, target, source_vm)
    ppg = _proximity_placement_group(cloud, target)
    scale_set = _scale_set(cloud, target, source_vm)
    try:
        encryption = encryption_keys.resolve(cloud, item)
    except encryption_keys.KeysUnavailable as exc:
        raise _fail(target, "encryption_keys_unavailable", str(exc)) from None
    disks = _disks(target, item, source_vm, encryption)
    estimate = estimate_reprotect_seconds(
        [DiskLoad(size_bytes=int(d.size_gb * GIB), disk_type=d.target_disk_type) for d in disks]
    )
    return ReprotectPlan(
        vm=item.vm_name,
        item_id=item.ref.id,
        vault_id=item.ref.vault.id,
        direction=ReprotectDirection(
            source=item.recovery_fabric_name,
            target=item.primary_fabric_name,
            source_location=item.recovery_location,
            target_location=item.primary_location,
            restores_original=restores_original_direction(item),
        ),
        recovery_container_id=recovery_container_id,
        policy_id=policy_id,
        target_resource_group=target_rg,
        network=PlannedResource(id=network_id, name=name_of(network_id), status="fixed"),
        cache_storage_account=cache,
        availability_set=availability_set,
        proximity_placement_group=ppg,
        disks=tuple(disks),
        estimated_seconds=round(estimate, 1),
        target_region=region.check,
        scale_set=scale_set,
    )


# Refusals judged from the replicated item's own state (``check_state``): a list snapshot of the vault may show
# the item as it was before an operation of ours ended, so intake confirms these with the item itself.
ITEM_STATE_CODES = frozenset(
    {
        "operation_in_progress",
        "not_failed_over",
        "failover_not_committed",
        "invalid_protection_state",
        "reprotect_not_allowed",
    }
)


def restores_original_direction(item: ReplicatedItem) -> bool:
    """Whether reprotecting ``item`` now replicates the way it was first enabled: the VM runs (failed over home)
    in the region replication was first enabled from (A2A ``initialPrimaryFabricLocation``, which switch
    protection keeps). Unknown when Azure does not say: then an ordinary reprotect."""
    initial = item.initial_primary_location.replace(" ", "").lower()
    return bool(initial) and initial == item.recovery_location.replace(" ", "").lower()


def recheck(cloud: Cloud, target: VmTarget) -> None:
    """The checks whose answer can change within minutes: the item's state and Resource Health's word on the
    target region.

    Used just before submitting when the full plan was resolved moments ago (when the request was
    accepted): it costs an item read and a Resource Health read, where a full re-resolution costs several
    ARM reads per VM (the region's resources answered those reads moments ago).
    """
    item = _find_item(cloud, target)
    check_state(target, item)
    _check_target_region(cloud, target, item, patient=True, read_resources=False)


def item_ref_of(target: VmTarget) -> ItemRef | None:
    """The item reference when the VM is named by item id (vault + name needs a lookup)."""
    return parse_item_id(target.item_id) if target.item_id else None


def _find_item(cloud: Cloud, target: VmTarget) -> ReplicatedItem:
    ref = item_ref_of(target)
    if ref is not None:
        item = cloud.get_item(ref)
    else:
        # The schema guarantees vault_id and vm_name when item_id is absent.
        item = cloud.find_item(parse_vault_id(str(target.vault_id)), str(target.vm_name))
    if item is None:
        raise _fail(
            target,
            "vm_not_found",
            "No replicated item matches this VM in the vault. Check the id or name; a VM that is not "
            "protected by Site Recovery cannot be reprotected.",
        )
    return item


def check_state(target: VmTarget, item: ReplicatedItem) -> None:
    """The item's state allows a reprotect (also the inventory's eligibility rule); else ``VmCheckFailed``."""
    state = item.protection_state.lower()
    if item.current_scenario.lower() != "none" or item.current_job_id:
        raise _fail(
            target,
            "operation_in_progress",
            f"Site Recovery is already running an operation on this VM ({item.current_scenario}). "
            "Wait for it to finish, then retry.",
        )
    if item.active_location.lower() == "primary" and state not in COMMITTED_STATES:
        raise _fail(
            target,
            "not_failed_over",
            f"The VM runs in its primary region ({item.primary_fabric_name}) and is "
            f"'{item.protection_state_description or item.protection_state}'; there is nothing to reprotect.",
        )
    if state not in COMMITTED_STATES:
        if "Commit" in item.allowed_operations:
            raise _fail(
                target,
                "failover_not_committed",
                "The failover has not been committed. Commit it (portal: Commit; PowerShell: "
                "Start-AzRecoveryServicesAsrCommitFailoverJob), then retry the reprotect.",
            )
        raise _fail(
            target,
            "invalid_protection_state",
            f"The VM is '{item.protection_state_description or item.protection_state}'; reprotect needs a "
            "committed failover.",
        )
    if "SwitchProtection" not in item.allowed_operations:
        raise _fail(
            target,
            "reprotect_not_allowed",
            "Site Recovery does not allow reprotect on this VM now (SwitchProtection is not among its "
            "allowed operations). Check the item's health in the vault.",
        )


def check_managed_disks(target: VmTarget, item: ReplicatedItem) -> None:
    """Unmanaged (page-blob) disks were retired on 30 September 2025: such a VM cannot run, so it is refused."""
    if item.unmanaged_disk_count:
        raise _fail(
            target,
            "unmanaged_disks_not_supported",
            f"The VM replicates {item.unmanaged_disk_count} unmanaged (page-blob) disk(s). Unmanaged disks were "
            "retired on 30 September 2025 and the service reprotects managed disks only. Migrate the VM to "
            "managed disks (ConvertTo-AzVMManagedDisk), enable replication again, then reprotect.",
        )


def _check_target_region(
    cloud: Cloud, target: VmTarget, item: ReplicatedItem, *, patient: bool, read_resources: bool = True
) -> RegionFindings:
    try:
        return inspect(cloud, item, patient=patient, read_resources=read_resources)
    except RegionRefused as refused:
        raise _fail(target, refused.code, refused.message, refused.details()) from None


def check_source_vm(
    cloud: Cloud, target: VmTarget, item: ReplicatedItem, vm: VirtualMachine | None
) -> VirtualMachine | None:
    """The original VM (read by the target region's check): gone or moved is refused."""
    if not item.source_vm_id:
        return None
    if vm is not None:
        return vm
    source = parse_resource_id(item.source_vm_id)
    moved_to = _find_moved_vm(cloud, item, source.subscription_id, source.name, source.resource_group)
    if moved_to:
        raise _fail(
            target,
            "source_vm_moved",
            f"The original VM {source.name} was moved from resource group {source.resource_group} to "
            f"{moved_to}. A moved VM cannot be reprotected: disable replication and enable it again.",
        )
    raise _fail(
        target,
        "source_vm_deleted",
        f"The original VM {source.name} no longer exists in resource group {source.resource_group}. "
        "A deleted VM cannot be reprotected: disable replication and enable it again.",
    )


def _find_moved_vm(cloud: Cloud, item: ReplicatedItem, subscription_id: str, name: str, old_group: str) -> str | None:
    """The resource group the original VM went to, if it still exists elsewhere in its region."""
    for vm in cloud.list_vms(subscription_id):
        if vm.name.lower() != name.lower() or same_id(vm.id, item.running_vm_id):
            continue  # the failed-over VM carries the same name in the other region
        group = parse_resource_id(vm.id).resource_group
        location = (vm.location or item.primary_location).lower()
        if group.lower() != old_group.lower() and location == item.primary_location.lower():
            return group
    return None


def _check_running_vm(cloud: Cloud, target: VmTarget, item: ReplicatedItem) -> None:
    if item.running_vm_id and cloud.get_vm(item.running_vm_id) is None:
        raise _fail(
            target,
            "failed_over_vm_not_found",
            f"The failed-over VM in {item.recovery_fabric_name} ({item.running_vm_id}) no longer exists, so "
            "there is nothing to replicate back. Disable replication for this item.",
        )


def _reverse_container_mapping(cloud: Cloud, target: VmTarget, item: ReplicatedItem) -> tuple[str, str]:
    own = item.ref.container_id
    for mapping in cloud.container_mappings(item.ref.vault):
        reverse = same_id(mapping.target_container_id, own) and not same_id(mapping.source_container_id, own)
        if reverse and mapping.policy_id:
            return own, mapping.policy_id
    raise _fail(
        target,
        "reverse_container_mapping_missing",
        f"No protection container mapping goes from {item.recovery_fabric_name} back to "
        f"{item.primary_fabric_name}. Create one (with a replication policy) in the vault, then retry.",
    )


def _reverse_network(cloud: Cloud, target: VmTarget, item: ReplicatedItem) -> str:
    for mapping in cloud.network_mappings(item.ref.vault):
        if same_id(mapping.primary_network_id, item.running_network_id):
            return mapping.recovery_network_id
    raise _fail(
        target,
        "reverse_network_mapping_missing",
        f"No network mapping goes from the VM's network in {item.recovery_fabric_name} back to "
        f"{item.primary_fabric_name}. Create the network mapping in the vault, then retry.",
    )


def _exists(cloud: Cloud, arm_id: str) -> bool:
    return cloud.get_resource(arm_id) is not None


def _target_resource_group(
    cloud: Cloud, target: VmTarget, item: ReplicatedItem, original_group: Resource | None
) -> PlannedResource:
    """Where the VM goes back to: the original VM's own group, in the original VM's own subscription.

    The vault may sit in another subscription of the tenant (a central DR vault); the group is read in
    its own subscription. Reprotecting to the original VM cannot change the group (Azure's reprotect
    docs), so a named group is only accepted when it is that group.
    """
    original = resource_group_id_of(item.source_vm_id) if item.source_vm_id else None
    wanted = target.target_resource_group_id
    if original and wanted and not same_id(wanted, original):
        raise _fail(
            target,
            "target_resource_group_not_changeable",
            f"Reprotect returns the VM to its original resource group {original}; the target resource group "
            "cannot be changed when reprotecting to the original VM. Remove target_resource_group_id (or name "
            "that group); to place the VM elsewhere, disable replication and enable it again.",
        )
    rg_id = original or wanted or item.recovery_resource_group_id
    if not rg_id:
        raise _fail(target, "target_resource_group_unknown", "Name a target_resource_group_id for this VM.")
    # The original group was read by the target region's check.
    exists = original_group is not None if original and same_id(rg_id, original) else _exists(cloud, rg_id)
    return PlannedResource(id=rg_id, name=name_of(rg_id), status="existing" if exists else "new")


def _cache_storage_account(cloud: Cloud, target: VmTarget, item: ReplicatedItem) -> PlannedResource:
    """The cache account switch protection will name: the caller's, an existing suitable one, or a new one
    (created before switch protection is sent).

    Searched in the vault's resource group first, as the portal places it, then the failed-over VM's. The
    account must be in the VM's own subscription (support matrix, "Cache storage"), so with a central vault
    in another subscription only the VM's group is searched and a new account goes there.
    """
    location = item.recovery_location
    if target.cache_storage_account_id:
        return _named_cache_account(cloud, target, target.cache_storage_account_id, location)
    vault = item.ref.vault
    vault_group = f"/subscriptions/{vault.subscription_id}/resourceGroups/{vault.resource_group}"
    vm_group = resource_group_id_of(item.running_vm_id) if item.running_vm_id else None
    groups = [vault_group]
    if vm_group and not same_id(subscription_of(vm_group), vault.subscription_id):
        groups = [vm_group]
    elif vm_group and not same_id(vm_group, vault_group):
        groups.append(vm_group)
    for group_id in groups:
        accounts = sorted(cloud.list_storage_accounts(group_id), key=lambda a: a.name)
        for account in accounts:
            if account.name.endswith(CACHE_SUFFIX) and unsuitable(account, location) is None and account.usable:
                return PlannedResource(id=account.id, name=account.name, status="existing")
    # Not found, or still being created by another job: marked new; the submitting step creates or waits.
    new_id = candidate_ids(groups[0], location)[0]
    return PlannedResource(id=new_id, name=name_of(new_id), status="new")


def _named_cache_account(cloud: Cloud, target: VmTarget, account_id: str, location: str) -> PlannedResource:
    """A caller's named account: used as given when it suits; created with exactly that name when it does
    not exist yet (never renamed: a name taken elsewhere fails the job with what to do)."""
    ref = parse_resource_id(account_id)
    if ref.provider.lower() != "microsoft.storage" or ref.type_path.lower() != "storageaccounts":
        raise _fail(
            target,
            "cache_storage_account_not_storage",
            "cache_storage_account_id must name a storage account (Microsoft.Storage/storageAccounts); "
            f"it names {ref.provider}/{ref.type_path}.",
        )
    if not re.fullmatch(r"[a-z0-9]{3,24}", ref.name):
        raise _fail(
            target,
            "cache_storage_account_name_invalid",
            f"{ref.name} is not a valid storage account name: 3 to 24 characters, lowercase letters and digits only.",
        )
    account = cloud.get_storage_account(account_id)
    if account is None:
        if cloud.get_resource(resource_group_id_of(account_id)) is None:
            raise _fail(
                target,
                "cache_storage_account_group_not_found",
                f"The resource group {ref.resource_group} of the cache storage account does not exist. Create it, "
                "or leave cache_storage_account_id out to let the service choose an account.",
            )
        free = cloud.check_storage_account_name(ref.subscription_id, ref.name)
        if not free.available:  # held in another group or subscription: never renamed, so refused now
            raise _fail(
                target,
                "cache_storage_account_name_taken",
                f"The storage account name {ref.name} is taken elsewhere in Azure ({free.message or free.reason}); "
                "storage account names are global. Name another account, or leave cache_storage_account_id out.",
            )
        return PlannedResource(id=account_id, name=ref.name, status="new")
    why = unsuitable(account, location, caller_named=True)
    if why is not None:
        code = (
            "cache_storage_account_wrong_region"
            if "where the VM runs now" in why
            else "cache_storage_account_unsuitable"
        )
        raise _fail(
            target,
            code,
            f"The cache storage account {account.name} cannot be used: {why}. Name a general-purpose v2 (Standard) "
            f"account in {location}, or leave cache_storage_account_id out.",
        )
    return PlannedResource(id=account.id, name=account.name, status="existing" if account.usable else "new")


def _availability_set(cloud: Cloud, target: VmTarget, source_vm: VirtualMachine | None) -> PlannedResource | None:
    wanted = target.availability_set_id or (source_vm.availability_set_id if source_vm else None)
    if not wanted:
        return None
    return PlannedResource(id=wanted, name=name_of(wanted), status="existing" if _exists(cloud, wanted) else "new")


def _proximity_placement_group(cloud: Cloud, target: VmTarget) -> PlannedResource | None:
    wanted = target.proximity_placement_group_id
    if not wanted:
        return None
    if not _exists(cloud, wanted):
        raise _fail(
            target,
            "proximity_placement_group_not_found",
            "The proximity placement group does not exist; Site Recovery does not create one. Create it first.",
        )
    return PlannedResource(id=wanted, name=name_of(wanted), status="existing")


def _scale_set(cloud: Cloud, target: VmTarget, source_vm: VirtualMachine | None) -> PlannedResource | None:
    """The original VM's (flexible) scale set: the VM goes back into it (``recoveryVirtualMachineScaleSetId``)."""
    wanted = source_vm.scale_set_id if source_vm else None
    if not wanted:
        return None
    if not _exists(cloud, wanted):
        raise _fail(
            target,
            "scale_set_not_found",
            f"The original VM belonged to the virtual machine scale set {name_of(wanted)}, which no longer exists. "
            "Recreate it (flexible orchestration) in the original region, then retry.",
        )
    return PlannedResource(id=wanted, name=name_of(wanted), status="existing")


def _disks(
    target: VmTarget,
    item: ReplicatedItem,
    source_vm: VirtualMachine | None,
    encryption: dict[str, encryption_keys.DiskEncryption],
) -> list[PlannedDisk]:
    existing = {d.lower() for d in (source_vm.disk_ids if source_vm else ())}
    plain = encryption_keys.DiskEncryption()
    return [
        _planned_disk(target, disk, disk.disk_id.lower() in existing, encryption.get(disk.disk_id.lower(), plain))
        for disk in item.disks
    ]


def _planned_disk(
    target: VmTarget, disk: ManagedDisk, exists: bool, encryption: encryption_keys.DiskEncryption
) -> PlannedDisk:
    keys = encryption.keys
    return PlannedDisk(
        name=disk.name,
        disk_id=disk.in_use_disk_id,
        target_disk_id=disk.disk_id,
        status="existing" if exists else "new",
        size_gb=round(disk.capacity_bytes / GIB, 2),
        target_disk_type=target.target_disk_type or disk.target_disk_type,
        replica_disk_type=target.replica_disk_type or disk.replica_disk_type,
        disk_type=disk.disk_type,
        disk_encryption_set_id=encryption.disk_encryption_set_id,
        ade_secret_url=keys.secret_url if keys else None,
        ade_secret_vault_id=keys.secret_vault_id if keys else None,
        ade_key_url=keys.key_url if keys else None,
        ade_key_vault_id=keys.key_vault_id if keys else None,
    )
