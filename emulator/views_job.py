"""ASR job JSON (like the recorded ``a2a_reprotect_job_succeeded.json``) and operation-status bodies; the jobs of
the rest of the cycle are drawn by ``views_cycle_job``, both from the pieces in ``views_job_parts``."""

from __future__ import annotations

from typing import Any

from emulator.clock import SimClock
from emulator.state import Job, Operation, Vault
from emulator.views_cycle_job import cycle_job_json
from emulator.views_job_parts import STATE_TEXT, T_JOB, allowed_actions, error_json, job_id, task_json


def job_json(vault: Vault, job: Job, clock: SimClock) -> dict[str, Any]:
    """The full job."""
    if job.cycle is not None:
        return cycle_job_json(vault, job, clock)
    old = job.snapshot
    primary, recovery = vault.fabrics[old.fabric.lower()], vault.fabrics[old.recovery_fabric.lower()]
    custom: dict[str, Any] = {
        "instanceType": "SwitchProtectionJobDetails",
        "affectedObjectDetails": {
            "primaryVmId": old.guids["target"],
            "primaryVmName": old.vm_name,
            "recoveryVmId": "",
            "recoveryVmName": old.vm_name,
            "protectionProfileId": old.guids["management"],
            "primaryCloudId": primary.internal_id,
            "primaryCloudName": primary.container,
            "recoveryCloudId": recovery.internal_id,
            "recoveryCloudName": recovery.container,
            "primaryVmmId": primary.internal_id,
            "primaryVmmName": primary.friendly_name,
            "recoveryVmmId": recovery.internal_id,
            "recoveryVmmName": recovery.friendly_name,
            "primaryFabricProviderId": "Azure",
            "recoveryFabricProviderId": "Azure",
        },
    }
    if job.new_item_id:
        custom["newReplicationProtectedItemId"] = job.new_item_id
    return {
        "id": job_id(vault, job.name),
        "name": job.name,
        "type": T_JOB,
        "location": None,
        "properties": {
            "activityId": f"{job.guids['activity']} ActivityId: {job.guids['child']}",
            "scenarioName": "SwitchReplicationGroupProtection",
            "friendlyName": "Reprotect",
            "state": job.state,
            "stateDescription": STATE_TEXT.get(job.state, job.state),
            "tasks": [task_json(vault, job, t, clock) for t in job.tasks],
            "errors": [error_json(clock, e) for e in job.errors],
            "startTime": clock.iso(job.start if job.start is not None else job.created),
            "endTime": clock.iso(job.end),
            "allowedActions": allowed_actions(job),
            "targetObjectId": old.guids["target"],
            "targetObjectName": old.vm_name,
            "targetInstanceType": "ProtectionEntity",
            "customDetails": custom,
        },
    }


def operation_status(op: Operation, clock: SimClock) -> dict[str, Any]:
    """``GET .../replicationOperationStatus/{guid}``."""
    return {
        "error": op.error,
        "id": None,
        "name": op.name,
        "properties": None,
        "status": op.status or "InProgress",
        "startTime": clock.iso(op.created),
        "endTime": clock.iso(op.ended),
        "percentComplete": None,
    }
