"""What a Schemathesis engine run found: check failures (with a curl to reproduce), errors, phases."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field

from schemathesis.engine import Status, events
from schemathesis.engine.recorder import ScenarioRecorder
from schemathesis.engine.run import PhaseSkipReason

from tests.contract.counting import RequestCounter
from tests.contract.findings import problem_code

EXCERPT = 400


@dataclass(frozen=True)
class Finding:
    """One distinct failure: where, which check, what it said, and how to reproduce it."""

    label: str
    check: str
    title: str
    message: str
    curl: str
    status: int | None
    body: str

    def render(self) -> str:
        return (
            f"[{self.check}] {self.label}: {self.title}\n    {self.message.strip()}\n"
            f"    answer: {self.status} {self.body}\n    reproduce: {self.curl}"
        )


@dataclass
class RunReport:
    """Everything worth asserting on, gathered from the engine's event stream."""

    findings: dict[tuple[str, str, str, object], Finding] = field(default_factory=dict)
    errors: list[str] = field(default_factory=list)
    phases: dict[str, str] = field(default_factory=dict)
    stateful_links: int = 0
    links_followed: Counter[str] = field(default_factory=Counter)  # link id -> steps that used its values
    stop_reason: str = ""
    seconds: float = 0.0

    def consume(self, stream: Iterable[events.EngineEvent]) -> None:
        """Take every event of one engine run (a report may span several runs)."""
        for event in stream:
            self.take(event)

    def take(self, event: events.EngineEvent) -> None:
        if isinstance(event, events.ScenarioFinished):
            self._record(event.recorder)
            self._note_links(event.recorder)
        elif isinstance(event, events.NonFatalError):
            self.errors.append(f"{event.label}: {event.info.format()}")
        elif isinstance(event, events.FatalError):
            self.errors.append(f"fatal: {event.exception!r}")
        elif isinstance(event, events.PhaseStarted) and isinstance(event.payload, events.StatefulPhasePayload):
            self.stateful_links = max(self.stateful_links, event.payload.transitions_selected)
        elif isinstance(event, events.PhaseFinished) and event.phase.skip_reason != PhaseSkipReason.DISABLED:
            self.phases[event.phase.name.value] = _phase_outcome(event)
        elif isinstance(event, events.EngineFinished):
            self.stop_reason, self.seconds = event.stop_reason.value, self.seconds + event.running_time
            self.errors.extend(f"after-run check: {failure.title}: {failure.message}" for failure in event.failures)

    def _record(self, recorder: ScenarioRecorder) -> None:
        for case_id, checks in recorder.checks.items():
            for check in checks:
                if check.status == Status.ERROR:
                    self.errors.append(f"{recorder.label}: the {check.name} check crashed")
                if check.failure_info is None:
                    continue
                failure = check.failure_info.failure
                interaction = recorder.interactions.get(case_id)
                response = interaction.response if interaction else None
                # One finding per kind of answer: a check failing for two reasons shows both.
                answer = (response.status_code, problem_code(response)) if response else None
                key = (failure.operation or recorder.label, check.name, failure.title, answer)
                if key not in self.findings:
                    self.findings[key] = Finding(
                        label=key[0],
                        check=check.name,
                        title=failure.title,
                        message=failure.message,
                        curl=check.failure_info.code_sample,
                        status=response.status_code if response else None,
                        body=(response.text_lossy()[:EXCERPT] if response else ""),
                    )

    def _note_links(self, recorder: ScenarioRecorder) -> None:
        for node in recorder.cases.values():
            if node.transition is not None and node.is_transition_applied:
                self.links_followed[node.transition.id] += 1

    def problems(self) -> list[str]:
        """Why the run is not clean; empty when it is."""
        return [*self.errors, *(finding.render() for finding in self.findings.values())]


def _phase_outcome(event: events.PhaseFinished) -> str:
    if event.phase.skip_reason is not None:
        return f"skipped ({event.phase.skip_reason.value})"
    return event.status.value


def requests_per_phase(
    stream: Iterable[events.EngineEvent], counter: RequestCounter, into: Counter[str]
) -> Iterator[events.EngineEvent]:
    """Pass ``stream`` through, adding to ``into`` how many requests each phase sent."""
    started = counter.total
    for event in stream:
        if isinstance(event, events.PhaseStarted):
            started = counter.total
        elif isinstance(event, events.PhaseFinished) and event.phase.skip_reason is None:
            into[event.phase.name.value] += counter.total - started
        yield event
