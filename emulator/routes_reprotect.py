"""Reprotect: ``switchprotection`` on the container (A2A managed disks) and the legacy ``reProtect`` on
the item (unmanaged disks), with their operation status and operation results."""

from __future__ import annotations

from typing import Any

from emulator import errors, ids, lookup, lro, routes_storage
from emulator.errors import asr_not_found, asr_refusal, bad_request
from emulator.router import Ctx, Reply, Router
from emulator.routes_asr import C, V
from emulator.state import DiskInput, Item, Operation, ReprotectRequest, Vault, World
from emulator.views_asr import container, container_id
from emulator.views_item import item_id, item_json
from emulator.views_job import job_json, operation_status
from emulator.views_job_parts import job_id


def _details(body: dict[str, Any]) -> dict[str, Any]:
    props = body.get("properties")
    if not isinstance(props, dict):
        raise bad_request("The request must carry 'properties'.")
    details = props.get("providerSpecificDetails")
    if not isinstance(details, dict):
        raise bad_request("'properties.providerSpecificDetails' is required.")
    if str(details.get("instanceType", "")).lower() != "a2a":
        raise bad_request("Only the A2A provider (instanceType 'A2A') is supported.")
    for field in ("recoveryContainerId", "policyId"):
        if not isinstance(details.get(field), str) or not details[field]:
            raise bad_request(f"'providerSpecificDetails.{field}' is required.")
    return details


def _disk(raw: Any) -> DiskInput:
    if not isinstance(raw, dict):
        raise bad_request("Each disk must be a JSON object.")
    return DiskInput(
        disk_id=raw.get("diskId"),
        disk_uri=raw.get("diskUri"),
        staging_account_id=raw.get("primaryStagingAzureStorageAccountId"),
        recovery_rg_id=raw.get("recoveryResourceGroupId"),
        replica_sku=raw.get("recoveryReplicaDiskAccountType"),
        target_sku=raw.get("recoveryTargetDiskAccountType"),
        recovery_account_id=raw.get("recoveryAzureStorageAccountId"),
        des_id=raw.get("recoveryDiskEncryptionSetId"),
        encryption=raw.get("diskEncryptionInfo") if isinstance(raw.get("diskEncryptionInfo"), dict) else None,
    )


def parse_request(details: dict[str, Any], *, legacy: bool) -> ReprotectRequest:
    """The A2A input the simulation honours."""
    return ReprotectRequest(
        recovery_container_id=details["recoveryContainerId"],
        policy_id=details["policyId"],
        recovery_rg_id=details.get("recoveryResourceGroupId"),
        avset_id=details.get("recoveryAvailabilitySetId"),
        ppg_id=details.get("recoveryProximityPlacementGroupId"),
        managed_disks=[_disk(d) for d in details.get("vmManagedDisks") or []],
        vm_disks=[_disk(d) for d in details.get("vmDisks") or []],
        legacy=legacy,
        encryption=details.get("diskEncryptionInfo") if isinstance(details.get("diskEncryptionInfo"), dict) else None,
        scale_set_id=details.get("recoveryVirtualMachineScaleSetId"),
    )


def check(vault: Vault, item: Item, request: ReprotectRequest, world: World) -> None:
    """Refuse what ASR refuses synchronously (state, direction, policy, disks, cache accounts).

    An item an earlier reprotect left moved (``leftover_snapshot``, leftovers mode ``moved_switch``) is
    checked as it was before that reprotect: the same request is valid again, posted where it lives now.
    """
    allowed = item.allowed_operations
    item = item.leftover_snapshot or item
    if item.protection_state != "UnplannedFailoverCommitted" or "SwitchProtection" not in allowed:
        raise asr_refusal(
            400,
            errors.NOT_ALLOWED,
            f"The operation 'SwitchProtection' isn't allowed on the replicated item '{item.vm_name}' in its "
            f"current state '{item.protection_state_description or item.protection_state}'.",
            "Reprotect needs a committed failover: the item must allow SwitchProtection.",
            "Commit the failover first, or check the item's allowed operations.",
        )
    primary = vault.fabrics[item.fabric.lower()]
    if request.recovery_container_id.lower() != container_id(vault, primary).lower():
        raise asr_refusal(
            400,
            errors.WRONG_CONTAINER,
            f"The recovery container '{request.recovery_container_id}' is not the primary protection "
            f"container of the replicated item '{item.vm_name}'.",
            "Reprotect replicates back to the item's original (primary) container.",
            f"Use recoveryContainerId '{container_id(vault, primary)}'.",
        )
    recovery = vault.fabrics[item.recovery_fabric.lower()]
    policy = request.policy_id.rstrip("/").rsplit("/", 1)[-1].lower()
    if not any(
        m.source_fabric == recovery.name and m.target_fabric == primary.name and m.policy.lower() == policy
        for m in vault.container_mappings
    ):
        raise asr_refusal(
            400,
            errors.POLICY_NOT_MAPPED,
            f"The policy '{request.policy_id}' is not associated with a protection container mapping from "
            f"'{recovery.container}' to '{primary.container}'.",
            "Reprotect uses the replication policy of the reverse container mapping.",
            "Create the reverse container mapping, or pass the policy of the existing one.",
        )
    _check_target_group(item, request)
    in_use = {(d.recovery_target_disk_id or "").lower() for d in item.disks} | {
        (d.recovery_disk_uri or "").lower() for d in item.disks
    }
    wanted = (
        [d.disk_id for d in request.managed_disks] if not item.unmanaged else [d.disk_uri for d in request.vm_disks]
    )
    if request.legacy and not item.unmanaged:
        wanted = []  # ASR accepts it and fails the job later ("Managed disk details not provided")
    for disk in wanted:
        if not disk or disk.lower() not in in_use:
            raise asr_refusal(
                400,
                errors.DISK_NOT_ATTACHED,
                f"The disk '{disk}' is not attached to the virtual machine '{item.vm_name}' in "
                f"{recovery.friendly_name}.",
                "Reprotect replicates the disks of the failed-over virtual machine (where it runs now).",
                "Pass the ids of the disks the failed-over virtual machine uses.",
            )
    check_cache_accounts(world, item, request, recovery.location, recovery.friendly_name)


def check_cache_accounts(world: World, item: Item, request: ReprotectRequest, location: str, region: str) -> None:
    """Every disk's cache (staging) account must be named, exist, and lie where the VM runs now.

    Site Recovery does not create it (README.md "Cache storage accounts", with sources).
    """
    for disk in request.managed_disks + request.vm_disks:
        staging = disk.staging_account_id
        if not staging:
            raise bad_request("'primaryStagingAzureStorageAccountId' is required for every disk.")
        account = world.get(staging)
        if account is None:
            raise asr_refusal(
                400,
                errors.CACHE_ACCOUNT_NOT_FOUND,
                f"The cache storage account '{staging}' specified for the virtual machine '{item.vm_name}' "
                "could not be found (HvrStorageAccountNotFound).",
                "The storage account does not exist, or was deleted, or is in another subscription.",
                f"Create a general-purpose v2 storage account in {region}, or pass an existing one, then retry.",
            )
        state = str(account.body.get("properties", {}).get("provisioningState", "Succeeded"))
        vm_subscription = (item.running_vm_id or item.source_vm_id).split("/")[2]
        if state.lower() != "succeeded" or not ids.same(staging.split("/")[2], vm_subscription):
            why = (
                f"is not ready yet (provisioningState {state})"
                if state.lower() != "succeeded"
                else f"is not in the virtual machine's subscription {vm_subscription}"
            )
            raise asr_refusal(
                400,
                errors.CACHE_ACCOUNT_NOT_FOUND,
                f"The cache storage account '{staging}' specified for the virtual machine '{item.vm_name}' {why} "
                "(HvrStorageAccountNotFound).",
                "The cache storage account must be usable and in the same subscription as the virtual machine.",
                f"Pass a usable general-purpose v2 storage account in {region} in subscription {vm_subscription}.",
            )
        if account.location.lower() != location.lower():
            raise asr_refusal(
                400,
                errors.CACHE_ACCOUNT_WRONG_REGION,
                f"The cache storage account '{staging}' specified must be located in the same region as the "
                f"source VM. The specific cache storage account location is : '{account.location}', ",
                "Reprotect stages the virtual machine's writes in a cache storage account in the region where "
                "it runs now.",
                f"Pass a cache storage account in {region} ({location}).",
            )


def _check_target_group(item: Item, request: ReprotectRequest) -> None:
    """Reprotecting to the original VM cannot change its resource group (Azure's reprotect docs). What ASR
    answers to another ``recoveryResourceGroupId`` is not public; this stand-in refuses it synchronously."""
    ref = ids.parse(item.source_vm_id)
    if ref is None or not request.recovery_rg_id:
        return
    original = ids.group_id(ref.subscription, ref.group)
    if not ids.same(request.recovery_rg_id, original):
        raise asr_refusal(
            400,
            errors.TARGET_GROUP_NOT_CHANGEABLE,
            f"The target resource group '{request.recovery_rg_id}' differs from the resource group '{original}' "
            f"of the virtual machine '{item.vm_name}'.",
            "When you reprotect a failed over virtual machine to the source virtual machine, the target resource "
            "group can't be changed.",
            f"Use recoveryResourceGroupId '{original}', or disable replication and enable it again.",
        )


def check_encryption(world: World, vault: Vault, item: Item, request: ReprotectRequest) -> None:
    """An encrypted disk needs its keys named, in the region the VM goes back to (emulator's rule: Azure's
    answer to a missing or misplaced key is not public; README.md)."""
    target = vault.fabrics[item.fabric.lower()].location
    for disk in item.disks:
        wanted = next((d for d in request.managed_disks if ids.same(d.disk_id, disk.recovery_target_disk_id)), None)
        if wanted is None:
            continue
        if disk.recovery_des_id or disk.primary_des_id:
            _key_in(world, disk.name, "disk encryption set (recoveryDiskEncryptionSetId)", wanted.des_id, target)
        if disk.ade_secret:
            info = wanted.encryption or request.encryption or {}
            secret = (info.get("diskEncryptionKeyInfo") or {}).get("keyVaultResourceArmId")
            _key_in(world, disk.name, "disk encryption key vault (diskEncryptionInfo)", secret, target)
            if disk.ade_kek:
                kek = (info.get("keyEncryptionKeyInfo") or {}).get("keyVaultResourceArmId")
                _key_in(world, disk.name, "key encryption key vault (diskEncryptionInfo)", kek, target)


def _key_in(world: World, disk: str, what: str, arm_id: str | None, location: str) -> None:
    found = world.get(arm_id) if arm_id else None
    if found is not None and found.location.lower() == location.lower():
        return
    why = "is not given" if not arm_id else "does not exist" if found is None else f"is in {found.location}"
    raise asr_refusal(
        400,
        errors.ENCRYPTION_DETAILS_INVALID,
        f"The {what} for the encrypted disk '{disk}' {why}.",
        "An encrypted disk is replicated with keys in the target region.",
        f"Pass a {what} in '{location}'.",
    )


def _in_progress(item: Item) -> None:
    if item.scenario_name != "None":
        raise asr_refusal(
            409,
            errors.OPERATION_IN_PROGRESS,
            f"Another operation ('{item.scenario_name}', job '{item.scenario_job_id}') is in progress on the "
            f"replicated item '{item.vm_name}'.",
            "Only one operation can run on a replicated item at a time.",
            "Wait for the running job to finish, then retry.",
        )


def _switch_protection(ctx: Ctx) -> Reply:
    vault = lookup.vault(ctx)
    fabric = lookup.container(ctx, vault)
    body = ctx.json()
    props = body.get("properties")
    name = props.get("replicationProtectedItemName") if isinstance(props, dict) else None
    if not isinstance(name, str) or not name:
        raise bad_request("'properties.replicationProtectedItemName' is required.")
    item = vault.items.get(name.lower())
    ctx.item = item.name if item else name
    ctx.emulator.stats.switch_protection_bodies[ctx.item].append(body)
    details = _details(body)
    if item is None:
        raise asr_not_found("replication protected item", name)
    _in_progress(item)
    if item.fabric.lower() != fabric.name.lower():
        raise asr_refusal(
            400,
            errors.WRONG_CONTAINER,
            f"The replicated item '{name}' is not protected by the container '{fabric.container}'.",
            "Switch protection must be posted to the container where the item currently lives.",
            f"Post to the container '{vault.fabrics[item.fabric.lower()].container}'.",
        )
    request = parse_request(details, legacy=False)
    routes_storage.settle(ctx.emulator.world, ctx.now)  # accounts whose create has finished by now
    check(vault, item, request, ctx.emulator.world)
    check_encryption(ctx.emulator.world, vault, item, request)
    job = ctx.emulator.engine.submit(vault, item, request)
    op = Operation(job.name, job.name, ctx.now, "container", fabric.name, fabric.container)
    reply = lro.accepted(ctx, vault, op, container_id(vault, fabric))
    reply.headers["x-ms-request-id"] = job_id(vault, job.name)
    return reply


def _reprotect(ctx: Ctx) -> Reply:
    vault = lookup.vault(ctx)
    body = ctx.json()
    item = lookup.item_here(ctx, vault)
    ctx.emulator.stats.reprotect_bodies[item.name].append(body)
    details = _details(body)
    _in_progress(item)
    request = parse_request(details, legacy=True)
    routes_storage.settle(ctx.emulator.world, ctx.now)
    check(vault, item, request, ctx.emulator.world)
    path = item_id(vault, item)
    job = ctx.emulator.engine.submit(vault, item, request)
    op = Operation(job.name, job.name, ctx.now, "item")
    reply = lro.accepted(ctx, vault, op, path)
    reply.headers["x-ms-request-id"] = job_id(vault, job.name)
    return reply


def _operation(ctx: Ctx, vault: Vault) -> Operation:
    op = vault.operations.get(ctx.params["op"].lower())
    if op is None:
        raise asr_not_found("operation", ctx.params["op"])
    job = vault.jobs.get(op.job.lower())
    ctx.item = job.item if job else None
    return op


def _status(ctx: Ctx) -> Reply:
    vault = lookup.vault(ctx)
    op = _operation(ctx, vault)
    # ASR sends no Retry-After here (pollers then wait their default 30 s); a scaled one keeps them in step.
    headers = {} if op.status else {"Retry-After": lro.retry_after(ctx)}
    return Reply(200, operation_status(op, ctx.emulator.clock), headers)


def _container_results(ctx: Ctx) -> Reply:
    vault = lookup.vault(ctx)
    fabric = lookup.container(ctx, vault)
    return lro.results(ctx, _operation(ctx, vault), container(vault, fabric))


def _item_results(ctx: Ctx) -> Reply:
    vault = lookup.vault(ctx)
    op = _operation(ctx, vault)
    item = vault.items.get(ctx.params["item"].lower())
    if item is None:
        raise asr_not_found("replication protected item", ctx.params["item"])
    return lro.results(ctx, op, item_json(ctx.emulator.world, vault, item, ctx.emulator.clock, ctx.now))


def _job_results(ctx: Ctx) -> Reply:
    vault = lookup.vault(ctx)
    op = _operation(ctx, vault)
    job = lookup.job(ctx, vault)
    return lro.results(ctx, op, job_json(vault, job, ctx.emulator.clock))


def register(router: Router) -> None:
    """Add the reprotect and operation routes."""
    router.add(
        "POST",
        C + "/switchprotection",
        "ReplicationProtectionContainers_SwitchProtection",
        _switch_protection,
    )
    router.add(
        "POST",
        C + "/replicationProtectedItems/{item}/reProtect",
        "ReplicationProtectedItems_Reprotect",
        _reprotect,
    )
    router.add("GET", V + "/replicationOperationStatus/{op}", "ReplicationOperationStatus_Get", _status)
    router.add(
        "GET",
        C + "/operationresults/{op}",
        "ReplicationProtectionContainers_OperationResults",
        _container_results,
    )
    router.add(
        "GET",
        C + "/replicationProtectedItems/{item}/operationresults/{op}",
        "ReplicationProtectedItems_OperationResults",
        _item_results,
    )
    router.add(
        "GET",
        V + "/replicationJobs/{job}/operationresults/{op}",
        "ReplicationJobs_OperationResults",
        _job_results,
    )
