"""A campaign's states and its steps' states, and which of them a sweep still acts on."""

from __future__ import annotations

from enum import StrEnum


class CampaignState(StrEnum):
    """Where a campaign stands as a whole."""

    RUNNING = "running"  # a step's jobs run, or the next step starts at the next sweep
    PAUSED = "paused"  # no new step starts; operations already sent to Azure finish
    WAITING_GATE = "waiting_gate"  # a manual gate waits for an operator's approval
    STOPPED = "stopped"  # a VM failed or a gate failed: at a safe point, with the reason; retry, resume or abort
    ABORTING = "aborting"  # the running operations finish, then a drill is cleaned up, then aborted
    COMPLETED = "completed"
    ABORTED = "aborted"


# The sweep looks at these; the others wait for an operator (or are over).
MOVING = frozenset({CampaignState.RUNNING, CampaignState.ABORTING})
FINAL = frozenset({CampaignState.COMPLETED, CampaignState.ABORTED})


class StepState(StrEnum):
    """Where one step (a phase, or one failover wave) stands."""

    PENDING = "pending"
    RUNNING = "running"
    DONE = "done"  # every VM's job is done (or the VM was skipped); its gate decides what follows
    FAILED = "failed"  # a VM failed, was cancelled or was refused: the campaign stopped here


class GateKind(StrEnum):
    """What lets a campaign past a step."""

    NONE = "none"
    AUTO = "auto"  # every VM of the step in the expected state
    MANUAL = "manual"  # and an operator approves (POST /campaigns/{id}/approve)
    HTTP = "http"  # and the application's health checks answer the expected status


class GateState(StrEnum):
    """A gate's outcome once its step is done."""

    PENDING = "pending"
    PASSED = "passed"
    FAILED = "failed"
