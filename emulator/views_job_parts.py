"""The pieces every ASR job's JSON is made of, whatever the job: its id, state text, allowed actions, tasks
(the reprotect's "Reprotecting virtual machine" as a group task with its "Enable replication" child job) and
errors (``serviceErrorDetails`` and ``providerErrorDetails``)."""

from __future__ import annotations

from typing import Any

from emulator import simulation as sim
from emulator.clock import NEVER, SimClock
from emulator.state import Job, JobError, Task, Vault

T_JOB = "Microsoft.RecoveryServices/vaults/replicationJobs"
STATE_TEXT = {
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


def error_json(clock: SimClock, error: JobError) -> dict[str, Any]:
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


def task_json(vault: Vault, job: Job, task: Task, clock: SimClock) -> dict[str, Any]:
    body: dict[str, Any] = {
        "taskId": task.spec.task_id,
        "name": task.spec.name,
        "startTime": _time(clock, task.start),
        "endTime": _time(clock, task.end),
        "allowedActions": [],
        "friendlyName": task.spec.friendly_name,
        "state": task.state,
        "stateDescription": STATE_TEXT.get(task.state, task.state),
        "taskType": "TaskDetails",
        "customDetails": {"instanceType": "TaskDetails"},
        "groupTaskCustomDetails": None,
        "errors": [error_json(clock, e) for e in task.errors],
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
