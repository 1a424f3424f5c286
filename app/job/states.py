"""Pure rules of the per-VM job state machine: states, legal transitions, terminal sets."""

from __future__ import annotations

from enum import StrEnum

from app.errors import Conflict


class JobState(StrEnum):
    """Where one VM's reprotect stands."""

    ACCEPTED = "accepted"
    VALIDATING = "validating"
    SUBMITTING = "submitting"
    REPROTECTING = "reprotecting"
    SYNCING = "syncing"
    PROTECTED = "protected"
    FAILED = "failed"
    CANCELLED = "cancelled"


TERMINAL_STATES: frozenset[JobState] = frozenset({JobState.PROTECTED, JobState.FAILED, JobState.CANCELLED})
ACTIVE_STATES: frozenset[JobState] = frozenset(set(JobState) - TERMINAL_STATES)
# Before switch protection reached Azure a job can be cancelled on our side alone.
PRE_SUBMISSION_STATES: frozenset[JobState] = frozenset({JobState.ACCEPTED, JobState.VALIDATING, JobState.SUBMITTING})

_FORWARD: dict[JobState, JobState] = {
    JobState.ACCEPTED: JobState.VALIDATING,
    JobState.VALIDATING: JobState.SUBMITTING,
    JobState.SUBMITTING: JobState.REPROTECTING,
    JobState.REPROTECTING: JobState.SYNCING,
    JobState.SYNCING: JobState.PROTECTED,
}

# A retry re-enters the machine where the failed attempt stopped (see ``retry_entry_state``).
_RETRY_ENTRIES: frozenset[JobState] = frozenset(
    {JobState.VALIDATING, JobState.SUBMITTING, JobState.REPROTECTING, JobState.SYNCING}
)


def is_terminal(state: JobState) -> bool:
    """True for protected, failed and cancelled."""
    return state in TERMINAL_STATES


def can_transition(current: JobState, target: JobState) -> bool:
    """Whether ``current -> target`` is a legal step of the job state machine."""
    if current in ACTIVE_STATES:
        return target in (JobState.FAILED, JobState.CANCELLED) or _FORWARD.get(current) == target
    if current == JobState.FAILED:
        return target in _RETRY_ENTRIES
    return False


def check_transition(current: JobState, target: JobState) -> None:
    """Raise :class:`Conflict` unless ``current -> target`` is legal."""
    if not can_transition(current, target):
        raise Conflict(f"A job cannot go from {current.value} to {target.value}.", code="invalid_transition")


def retry_entry_state(failed_in: JobState, *, azure_failed: bool = True, asr_job_known: bool = False) -> JobState:
    """Where a retried job starts again, given the state it was in when it failed.

    When Azure's own reprotect job failed, the retry submits again from where Azure left the item
    (``submitting`` with the failed ASR job known: a Restart of that job where Azure offers it, else a new
    switch protection); a failure before any ASR job re-validates first. When only our watching stopped
    (a deadline, an internal error) while Azure still works or already finished, the retry resumes
    watching the same ASR job or resync.
    """
    if failed_in == JobState.SYNCING:
        return JobState.SYNCING
    if failed_in == JobState.REPROTECTING and not azure_failed:
        return JobState.REPROTECTING
    if failed_in == JobState.REPROTECTING and asr_job_known:
        return JobState.SUBMITTING
    return JobState.VALIDATING
