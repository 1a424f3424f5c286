"""A campaign's steps, in order, from its VMs' waves and its options (pure).

reprotect → drill (its validation gate) → drill_cleanup → failover, one step per wave (each wave's gate) →
commit → reprotect_back. Without a drill, the two drill steps are left out.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from app.campaign.states import GateKind
from app.job.kinds import JobKind

PHASES: tuple[JobKind, ...] = (
    JobKind.REPROTECT,
    JobKind.DRILL,
    JobKind.DRILL_CLEANUP,
    JobKind.FAILOVER,
    JobKind.COMMIT,
    JobKind.REPROTECT_BACK,
)


@dataclass(frozen=True)
class StepSpec:
    """One step to run: its phase, its wave (failover only), and the gate after it."""

    phase: JobKind
    wave: int | None = None
    gate: GateKind = GateKind.NONE
    health_checks: list[dict[str, Any]] = field(default_factory=list)


def steps_for(waves: list[int], options: dict[str, Any]) -> list[StepSpec]:
    """The steps for VMs in ``waves`` (their failover waves) under ``options`` (a ``CampaignIn``'s dump)."""
    steps = [StepSpec(JobKind.REPROTECT)]
    if options.get("drill", True):
        checks = list(options.get("drill_health_checks", []))
        steps.append(
            StepSpec(JobKind.DRILL, gate=_gate(options.get("drill_approval", "manual"), checks), health_checks=checks)
        )
        steps.append(StepSpec(JobKind.DRILL_CLEANUP))
    gates = {int(wave): gate for wave, gate in options.get("wave_gates", {}).items()}
    for wave in sorted(set(waves)):
        gate = gates.get(wave, {})
        checks = list(gate.get("health_checks", []))
        steps.append(
            StepSpec(
                JobKind.FAILOVER, wave=wave, gate=_gate(gate.get("approval", "auto"), checks), health_checks=checks
            )
        )
    steps.append(StepSpec(JobKind.COMMIT))
    steps.append(StepSpec(JobKind.REPROTECT_BACK))
    return steps


def _gate(approval: str, checks: list[dict[str, Any]]) -> GateKind:
    """Manual when an operator approves (after any health checks pass), else HTTP with checks, else automatic."""
    kind = GateKind(approval)
    return GateKind.HTTP if kind is GateKind.AUTO and checks else kind


def waves_by_size(count: int, size: int | None) -> list[int]:
    """The wave of each of ``count`` VMs (in order) when waves hold ``size`` VMs each (one wave without)."""
    if not size:
        return [1] * count
    return [index // size + 1 for index in range(count)]
