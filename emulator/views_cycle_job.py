"""ASR job JSON of the rest of the cycle: scenario and display name as Azure PowerShell shows them
(``TestFailover`` "Test failover", ``CommitFailover`` "Commit", ...), its tasks, and ``TestFailoverJobDetails``
(networks, cleanup comments) or ``FailoverJobDetails`` as custom details."""

from __future__ import annotations

from typing import Any

from emulator import cycle_plan as cp
from emulator.clock import SimClock
from emulator.state import Job, Vault
from emulator.views_job_parts import STATE_TEXT, T_JOB, allowed_actions, error_json, job_id, task_json


def _protected_item(vault: Vault, job: Job) -> dict[str, Any]:
    item = job.snapshot
    primary, recovery = vault.fabrics[item.fabric.lower()], vault.fabrics[item.recovery_fabric.lower()]
    return {
        "name": item.name,
        "friendlyName": item.vm_name,
        "testVmName": f"{item.vm_name}-test",
        "testVmFriendlyName": f"{item.vm_name}-test",
        "networkConnectionStatus": "Connected" if job.state == "Succeeded" else None,
        "subnet": "default",
        "recoveryPointId": job.guids.get("point") or None,
        "recoveryPointTime": None,
        "primaryFabric": primary.friendly_name,
        "recoveryFabric": recovery.friendly_name,
    }


def _custom(vault: Vault, job: Job) -> dict[str, Any]:
    assert job.cycle is not None
    request = job.cycle
    if request.operation in (cp.TEST_FAILOVER, cp.CLEANUP):
        network = request.network_id or job.snapshot.test_network_id
        return {
            "instanceType": "TestFailoverJobDetails",
            "testFailoverStatus": job.state,
            "comments": request.comments,
            "networkName": network,
            "networkFriendlyName": network.rsplit("/", 1)[-1] if network else None,
            "networkType": request.network_type,
            "protectedItemDetails": [_protected_item(vault, job)],
        }
    return {"instanceType": "FailoverJobDetails", "protectedItemDetails": [_protected_item(vault, job)]}


def cycle_job_json(vault: Vault, job: Job, clock: SimClock) -> dict[str, Any]:
    """The full job of a test failover, cleanup, failover or commit."""
    assert job.cycle is not None
    kind = cp.KINDS[job.cycle.operation]
    item = job.snapshot
    return {
        "id": job_id(vault, job.name),
        "name": job.name,
        "type": T_JOB,
        "location": None,
        "properties": {
            "activityId": f"{job.guids['activity']} ActivityId: {job.guids['child']}",
            "scenarioName": kind.scenario,
            "friendlyName": kind.display_name,
            "state": job.state,
            "stateDescription": STATE_TEXT.get(job.state, job.state),
            "tasks": [task_json(vault, job, t, clock) for t in job.tasks],
            "errors": [error_json(clock, e) for e in job.errors],
            "startTime": clock.iso(job.start if job.start is not None else job.created),
            "endTime": clock.iso(job.end),
            "allowedActions": allowed_actions(job),
            "targetObjectId": item.guids["target"],
            "targetObjectName": item.vm_name,
            "targetInstanceType": "ProtectionEntity",
            "customDetails": _custom(vault, job),
        },
    }
