"""ASR job JSON (like the recorded ``a2a_reprotect_job_succeeded.json``) and operation-status bodies."""

from __future__ import annotations

from typing import Any

from emulator import simulation as sim
from emulator.clock import NEVER, SimClock
from emulator.state import Job, JobError, Operation, Task, Vault

T_JOB = "Microsoft.RecoveryServices/vaults/replicationJobs"
_STATE_TEXT = {
    "NotStarted": "NotStarted",
    "InProgress": "InProgress",
    "Succeeded": "Completed",
    "Failed": "Failed",
    "Cancelled": "Cancelled",
    "Suspended": "Suspended",
    "Other": "Skipped",
}


def job_id(vault: Vault, name: str) -> str:
    """A job's id."""
    return f"{vault.id}/replicationJobs/{name}"


def allowed_actions(job: Job) -> list[str]:
    """Cancel while the job runs, "Reprotecting virtual machine" included (recorded: A2AReprotectTest shows
    ``["Cancel"]`` with that task in progress and the item already moved); Restart once failed (unless the
    injected failure says the job cannot be restarted); nothing once it succeeded or was cancelled. The jobs of
    the rest of the cycle offer nothing (README "The whole cycle")."""
    if job.cycle is not None:
        return []
    if job.running:
        return ["Cancel"]
    if job.state == "Failed" and job.restartable:
        return ["Restart"]
    return []


def _error(clock: SimClock, error: JobError) -> dict[str, Any]:
    return {
        "serviceErrorDetails": {
            "code": error.code,
            "message": error.message,
            "possibleCauses": error.possible_causes,
            "recommendedAction": error.recommended_action,
            "activityId": None,
        },
        "providerErrorDetails": {
            "errorCode": int(error.code) if error.code.isdigit() else None,
            "errorMessage": error.message,
            "errorId": None,
            "possibleCauses": error.possible_causes,
            "recommendedAction": error.recommended_action,
        },
        "errorLevel": "Error",
        "creationTime": clock.iso(error.at),
        "taskId": error.task_id,
    }


def _time(clock: SimClock, at: float | None) -> str:
    stamp = clock.iso(at)
    return stamp if stamp is not None else NEVER


def _task(vault: Vault, job: Job, task: Task, clock: SimClock) -> dict[str, Any]:
    body: dict[str, Any] = {
        "taskId": task.spec.task_id,
        "name": task.spec.name,
        "startTime": _time(clock, task.start),
        "endTime": _time(clock, task.end),
        "allowedActions": [],
        "friendlyName": task.spec.friendly_name,
        "state": task.state,
        "stateDescription": _STATE_TEXT.get(task.state, task.state),
        "taskType": "TaskDetails",
        "customDetails": {"instanceType": "TaskDetails"},
        "groupTaskCustomDetails": None,
        "errors": [_error(clock, e) for e in task.errors],
    }
    if task.spec.task_id == sim.PROTECT:
        body["taskType"] = "GroupTaskDetails"
        body["customDetails"] = None
        child = {
            "taskId": "EnableDr",
            "name": job.snapshot.vm_name,
            "startTime": body["startTime"],
            "endTime": body["endTime"],
            "allowedActions": [],
            "friendlyName": job.snapshot.vm_name,
            "state": task.state,
            "stateDescription": body["stateDescription"],
            "taskType": "JobTaskDetails",
            "customDetails": {
                "instanceType": "JobTaskDetails",
                "jobTask": {
                    "jobId": job_id(vault, job.guids["child"]),
                    "jobFriendlyName": "Enable replication",
                    "targetObjectId": job.snapshot.guids["target"],
                    "targetObjectName": job.snapshot.vm_name,
                    "targetInstanceType": "Vm",
                    "jobScenarioName": "EnableDr",
                },
            },
            "groupTaskCustomDetails": None,
            "errors": [],
        }
        body["groupTaskCustomDetails"] = {"instanceType": "GroupTaskDetails", "childTasks": [child]}
    return body


def job_json(vault: Vault, job: Job, clock: SimClock) -> dict[str, Any]:
    """The full job."""
    if job.cycle is not None:
        from emulator.views_cycle_job import cycle_job_json  # it builds on this module's task and error JSON

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
            "stateDescription": _STATE_TEXT.get(job.state, job.state),
            "tasks": [_task(vault, job, t, clock) for t in job.tasks],
            "errors": [_error(clock, e) for e in job.errors],
            "startTime": clock.iso(job.start if job.start is not None else job.created),
            "endTime": clock.iso(job.end),
            "allowedActions": allowed_actions(job),
            "targetObjectId": old.guids["target"],
            "targetObjectName": old.vm_name,
            "targetInstanceType": "ProtectionEntity",
            "customDetails": custom,
        },
    }


# For the views of the cycle's jobs.
STATE_TEXT = _STATE_TEXT
task_json = _task
error_json = _error


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
