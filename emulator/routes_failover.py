"""The rest of the way home on a replicated item: ``testFailover``, ``testFailoverCleanup``,
``unplannedFailover``, ``failoverCommit`` (each a 202 LRO whose job runs in ``cycle_engine``), and
``plannedFailover``, which A2A does not offer (README "The whole cycle", with sources)."""

from __future__ import annotations

from typing import Any, NoReturn

from emulator import cycle_plan as cp
from emulator import cycle_states, errors, lookup, lro
from emulator.errors import asr_refusal, bad_request
from emulator.router import Ctx, Reply, Router
from emulator.routes_asr import C
from emulator.state import CycleRequest, Item, Operation, Vault
from emulator.views_item import item_id, recovery_points
from emulator.views_job_parts import job_id

ITEM = C + "/replicationProtectedItems/{item}"


def _properties(ctx: Ctx, *, required: bool) -> dict[str, Any]:
    body = ctx.json()
    props = body.get("properties")
    if props is None and not required:
        return {}
    if not isinstance(props, dict):
        raise bad_request("The request must carry 'properties'.")
    return props


def _a2a(props: dict[str, Any]) -> dict[str, Any]:
    details = props.get("providerSpecificDetails") or {}
    if not isinstance(details, dict) or str(details.get("instanceType", "A2A")).lower() != "a2a":
        raise bad_request("Only the A2A provider (instanceType 'A2A') is supported.")
    return details


def _refuse_not_allowed(item: Item, operation: str) -> NoReturn:
    name = cp.ALLOWED_NAME[operation]
    raise asr_refusal(
        400,
        errors.NOT_ALLOWED,
        f"The operation '{name}' isn't allowed on the replicated item '{item.vm_name}' in its current state "
        f"'{item.protection_state_description or item.protection_state}'.",
        f"The item allows only these operations now: {', '.join(item.allowed_operations) or 'none'}.",
        "Check the item's allowedOperations before starting an operation on it.",
    )


def _check(vault: Vault, item: Item, operation: str) -> None:
    """One operation at a time per item (409), then the item must allow this one (400)."""
    running = vault.jobs.get((item.scenario_job_id or "").rsplit("/", 1)[-1].lower())
    if running is not None and running.running:
        raise asr_refusal(
            409,
            errors.OPERATION_IN_PROGRESS,
            f"Another operation ('{item.scenario_name}', job '{item.scenario_job_id}') is in progress on the "
            f"replicated item '{item.vm_name}'.",
            "Only one operation can run on a replicated item at a time.",
            "Wait for the running job to finish, then retry.",
        )
    if not cycle_states.allows(item, operation):
        _refuse_not_allowed(item, operation)


def _direction(item: Item, props: dict[str, Any]) -> str:
    """A2A fails over from where the item is active: PrimaryToRecovery while active on the primary."""
    wanted = "PrimaryToRecovery" if item.active_location == "Primary" else "RecoveryToPrimary"
    given = props.get("failoverDirection") or wanted
    if str(given).lower() != wanted.lower():
        raise asr_refusal(
            400,
            errors.WRONG_FAILOVER_DIRECTION,
            f"The failover direction '{given}' is not valid for the replicated item '{item.vm_name}', which is "
            f"active on its {item.active_location.lower()} side.",
            "Azure virtual machines fail over from the region where they run to the replication target.",
            f"Use failoverDirection '{wanted}'.",
        )
    return wanted


def _point(ctx: Ctx, vault: Vault, item: Item, wanted: str | None) -> str | None:
    """The recovery point used: the one named (it must be listed now), else the latest processed one."""
    points = recovery_points(vault, item, ctx.emulator.clock, ctx.now)
    if not wanted:
        return str(points[0]["id"]) if points else None
    name = wanted.rstrip("/").rsplit("/", 1)[-1].lower()
    found = next((p for p in points if str(p["name"]).lower() == name), None)
    if found is None:
        raise asr_refusal(
            400,
            errors.RECOVERY_POINT_NOT_FOUND,
            f"The recovery point '{wanted}' was not found for the replicated item '{item.vm_name}'.",
            "The recovery point is older than the policy's retention, or belongs to another item.",
            "List the item's recovery points and pass one of them, or none for the latest processed point.",
        )
    return str(found["id"])


def _submit(ctx: Ctx, vault: Vault, item: Item, request: CycleRequest, point: str | None) -> Reply:
    path = item_id(vault, item)
    job = ctx.emulator.engine.cycle.submit(vault, item, request, point)
    reply = lro.accepted(ctx, vault, Operation(job.name, job.name, ctx.now, "item"), path)
    reply.headers["x-ms-request-id"] = job_id(vault, job.name)
    return reply


def _test_failover(ctx: Ctx) -> Reply:
    vault = lookup.vault(ctx)
    item = lookup.item_here(ctx, vault)
    props = _properties(ctx, required=True)
    details = _a2a(props)
    _check(vault, item, cp.TEST_FAILOVER)
    direction = _direction(item, props)
    network_id = props.get("networkId")
    recovery = vault.fabrics[item.recovery_fabric.lower()]
    network = ctx.emulator.world.get(network_id) if isinstance(network_id, str) else None
    if network is None or network.location.lower() != recovery.location.lower():
        why = "is not given" if not network_id else "does not exist" if network is None else f"is in {network.location}"
        raise asr_refusal(
            400,
            errors.TEST_NETWORK_INVALID,
            f"The test failover network '{network_id}' for the virtual machine '{item.vm_name}' {why}.",
            "Test failover creates the test virtual machine in a virtual network of the target region.",
            f"Pass networkId of an isolated virtual network in {recovery.friendly_name} ({recovery.location}).",
        )
    point = _point(ctx, vault, item, details.get("recoveryPointId"))
    request = CycleRequest(
        cp.TEST_FAILOVER,
        failover_direction=direction,
        network_id=network.id,
        network_type=props.get("networkType") or "VmNetworkAsInput",
        recovery_point_id=details.get("recoveryPointId"),
    )
    return _submit(ctx, vault, item, request, point)


def _cleanup(ctx: Ctx) -> Reply:
    vault = lookup.vault(ctx)
    item = lookup.item_here(ctx, vault)
    props = _properties(ctx, required=True)
    _check(vault, item, cp.CLEANUP)
    comments = props.get("comments")
    request = CycleRequest(cp.CLEANUP, comments=str(comments) if comments is not None else None)
    return _submit(ctx, vault, item, request, item.failover_point_id)


def _unplanned_failover(ctx: Ctx) -> Reply:
    vault = lookup.vault(ctx)
    item = lookup.item_here(ctx, vault)
    props = _properties(ctx, required=True)
    details = _a2a(props)
    _check(vault, item, cp.FAILOVER)
    direction = _direction(item, props)
    operations = str(props.get("sourceSiteOperations") or "NotRequired")
    if operations.lower() not in ("required", "notrequired"):
        raise bad_request("'sourceSiteOperations' must be 'Required' or 'NotRequired'.")
    point = _point(ctx, vault, item, details.get("recoveryPointId"))
    request = CycleRequest(
        cp.FAILOVER,
        failover_direction=direction,
        recovery_point_id=details.get("recoveryPointId"),
        source_site_operations=operations,
    )
    return _submit(ctx, vault, item, request, point)


def _commit(ctx: Ctx) -> Reply:
    vault = lookup.vault(ctx)
    item = lookup.item_here(ctx, vault)
    _check(vault, item, cp.COMMIT)
    return _submit(ctx, vault, item, CycleRequest(cp.COMMIT), item.failover_point_id)


def _planned_failover(ctx: Ctx) -> Reply:
    vault = lookup.vault(ctx)
    item = lookup.item_here(ctx, vault)
    raise asr_refusal(
        400,
        errors.PLANNED_FAILOVER_NOT_SUPPORTED,
        f"Planned failover isn't supported for the replicated item '{item.vm_name}' (provider A2A).",
        "Azure virtual machines replicated to another region fail over with an unplanned failover.",
        "Start an unplanned failover with sourceSiteOperations 'Required' to shut the source down first.",
    )


def register(router: Router) -> None:
    """Add the test failover, cleanup, failover and commit routes."""
    router.add("POST", ITEM + "/testFailover", "ReplicationProtectedItems_TestFailover", _test_failover)
    router.add("POST", ITEM + "/testFailoverCleanup", "ReplicationProtectedItems_TestFailoverCleanup", _cleanup)
    router.add("POST", ITEM + "/unplannedFailover", "ReplicationProtectedItems_UnplannedFailover", _unplanned_failover)
    router.add("POST", ITEM + "/failoverCommit", "ReplicationProtectedItems_FailoverCommit", _commit)
    router.add("POST", ITEM + "/plannedFailover", "ReplicationProtectedItems_PlannedFailover", _planned_failover)
