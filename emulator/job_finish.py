"""Ends an ASR job, reprotect or any other: its final state and end time, and the operation that follows it
(named after the job: the guid of ``Azure-AsyncOperation``) settles with the job's outcome."""

from __future__ import annotations

from emulator import errors
from emulator.state import Job, Operation, Vault


def finish(vault: Vault, job: Job, state: str, at: float) -> None:
    """End a job (and settle the operation that follows it)."""
    job.state, job.end = state, at
    if job.start is None:
        job.start = at
    op = vault.operations.get(job.name.lower())
    if op is not None and op.follows_job and op.status is None:
        _settle(op, job, at)


def _settle(op: Operation, job: Job, at: float) -> None:
    op.ended = at
    if job.state == "Succeeded":
        op.status = "Succeeded"
    elif job.state == "Cancelled":
        op.status = "Canceled"
        op.error = {"code": errors.JOB_CANCELLED, "message": "The job was cancelled.", "details": None}
    else:
        last = job.errors[-1] if job.errors else None
        op.status = "Failed"
        op.error = {
            "code": last.code if last else errors.PROTECTION_FAILED,
            "message": last.message if last else "Protection couldn't be enabled for the virtual machine.",
            "details": None,
        }
