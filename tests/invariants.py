"""Invariants of the job and webhook tables, checked after the fact (fault-injection trials, audits).

``check(session, ...)`` reads every job, its history and the webhook events, and returns each broken
rule as a :class:`Violation` (an empty list means all hold). It never writes and has no test framework
in it, so scripts, benchmarks and test suites all use the same rules:

- a job's history is legal and gap-free: it starts ``None -> accepted``, each entry starts where the
  previous one ended, every step is allowed by :func:`app.job.states.can_transition`, a new attempt
  begins only with a retry out of ``failed`` (attempt + 1), and the last entry is the job's state;
- terminal jobs carry ``finished_at`` (failed ones an error code); active ones are still before their
  deadline (plus a grace), and, when asked, not stalled;
- no VM ever had two active jobs, reconstructed from the histories (the partial unique index only
  proves it for one instant);
- switch protection reached Azure at most once per job attempt that went past ``submitting``, and at
  least once per attempt that moved ``submitting -> reprotecting`` (when Azure's counts are given);
- every attempt that ended terminal wrote exactly one terminal event of the matching type, and no other
  attempt wrote one; every request whose jobs are all terminal is completed, with its event.
"""

from __future__ import annotations

import uuid
from collections import Counter, defaultdict
from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from itertools import pairwise
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.db import utcnow
from app.job.models import Job, JobTransition, ReprotectRequest
from app.job.states import TERMINAL_STATES, JobState, can_transition
from app.webhook.events import TERMINAL_EVENT, EventType
from app.webhook.models import WebhookEvent

SWITCH_PROTECTION = "ReplicationProtectionContainers_SwitchProtection"
JOB_RESTART = "ReplicationJobs_Restart"
_STATES = {s.value: s for s in JobState}
_TERMINAL_VALUES = frozenset(s.value for s in TERMINAL_STATES)
_TERMINAL_EVENT_TYPES = {event.value: state.value for state, event in TERMINAL_EVENT.items()}


@dataclass(frozen=True)
class Violation:
    """One broken rule: a stable ``code``, the job concerned (if any) and what was seen."""

    code: str
    job_id: str | None
    message: str

    def __str__(self) -> str:
        return f"[{self.code}] job {self.job_id or '-'}: {self.message}"


@dataclass(frozen=True)
class Step:
    """One history entry, detached from the session."""

    attempt: int
    from_state: str | None
    to_state: str
    at: datetime


@dataclass(frozen=True)
class _JobFacts:
    """What the rules need of one job."""

    id: str
    request_id: uuid.UUID
    vm_key: str
    item_name: str
    state: str
    attempt: int
    finished_at: datetime | None
    deadline_at: datetime
    next_due_at: datetime | None
    lease_until: datetime | None
    error_code: str | None
    steps: tuple[Step, ...]


def check(
    session: Session,
    *,
    switch_calls_by_item: Mapping[str, int] | None = None,
    now: datetime | None = None,
    deadline_grace: timedelta = timedelta(seconds=30),
    stall_after: timedelta | None = None,
    clock_tolerance: timedelta = timedelta(milliseconds=500),
    delivered_event_ids: Collection[str] | None = None,
) -> list[Violation]:
    """Every broken invariant of the database behind ``session``; empty when all hold.

    ``switch_calls_by_item``: switch-protection calls that reached Azure per replicated item name (see
    :func:`switch_calls_from_stats`); without it the switch-protection rule is skipped.
    ``stall_after``: also report active jobs overdue (or holding an expired lease) for longer than this.
    ``clock_tolerance``: how far two writers' clocks may disagree when histories are compared in time.
    ``delivered_event_ids``: when given, every terminal and request-completed event must be in it.
    """
    at = now or utcnow()
    jobs = _load_jobs(session)
    events = list(session.scalars(select(WebhookEvent)))
    found: list[Violation] = []
    for job in jobs:
        found += check_history(job.id, job.steps, state=job.state, attempt=job.attempt)
        found += _check_liveness(job, now=at, grace=deadline_grace, stall_after=stall_after)
    found += _check_one_active_per_vm(jobs, tolerance=clock_tolerance, now=at)
    if switch_calls_by_item is not None:
        found += _check_switch_protection(jobs, switch_calls_by_item)
    found += _check_terminal_events(jobs, events)
    found += _check_requests(session, jobs, events)
    if delivered_event_ids is not None:
        found += _check_delivered(events, set(delivered_event_ids))
    return found


def switch_calls_from_stats(stats: Mapping[str, Any]) -> dict[str, int]:
    """Submissions per item name from the emulator's ``GET /_emulator/stats`` answer: switch-protection
    calls plus restarts of a failed ASR job (a retry's one call, sent instead of a switch protection)."""
    by_item: Mapping[str, Mapping[str, int]] = stats.get("calls_by_item") or {}
    return {
        item: int(calls.get(SWITCH_PROTECTION, 0)) + int(calls.get(JOB_RESTART, 0)) for item, calls in by_item.items()
    }


# -- loading ---------------------------------------------------------------------------------------


def _load_jobs(session: Session) -> list[_JobFacts]:
    steps: dict[uuid.UUID, list[Step]] = defaultdict(list)
    for row in session.scalars(select(JobTransition).order_by(JobTransition.id)):
        steps[row.job_id].append(Step(row.attempt, row.from_state, row.to_state, row.at))
    return [
        _JobFacts(
            id=str(job.id),
            request_id=job.request_id,
            vm_key=job.vm_key,
            item_name=item_name_of(job.item_id),
            state=job.state,
            attempt=job.attempt,
            finished_at=job.finished_at,
            deadline_at=job.deadline_at,
            next_due_at=job.next_due_at,
            lease_until=job.lease_until,
            error_code=job.error_code,
            steps=tuple(steps.get(job.id, ())),
        )
        for job in session.scalars(select(Job).order_by(Job.created_at, Job.id))
    ]


def item_name_of(item_id: str) -> str:
    """A replicated item's name: the last segment of its ARM id (stable across the item's move)."""
    return item_id.rstrip("/").rsplit("/", 1)[-1]


# -- history ---------------------------------------------------------------------------------------


def check_history(job_id: str, steps: Iterable[Step], *, state: str, attempt: int) -> list[Violation]:
    """The rules of one job's history (in insertion order) against its current state and attempt."""
    entries = list(steps)
    if not entries:
        return [Violation("history_empty", job_id, "the job has no history at all")]
    found: list[Violation] = []
    first = entries[0]
    if first.from_state is not None or first.to_state != JobState.ACCEPTED.value or first.attempt != 1:
        found.append(
            Violation(
                "history_bad_start",
                job_id,
                f"history starts {first.from_state} -> {first.to_state} (attempt {first.attempt}), "
                "not None -> accepted (attempt 1)",
            )
        )
    for index, (before, step) in enumerate(pairwise(entries), start=2):
        found += _check_step(job_id, index, before, step)
    last = entries[-1]
    if last.to_state != state or last.attempt != attempt:
        found.append(
            Violation(
                "history_state_mismatch",
                job_id,
                f"history ends in {last.to_state} (attempt {last.attempt}) but the job is {state} (attempt {attempt})",
            )
        )
    return found


def _check_step(job_id: str, index: int, before: Step, step: Step) -> list[Violation]:
    where = f"entry {index} ({step.from_state} -> {step.to_state}, attempt {step.attempt})"
    if step.from_state != before.to_state:
        return [Violation("history_gap", job_id, f"{where} does not start where entry {index - 1} ended")]
    source, target = _STATES.get(step.from_state or ""), _STATES.get(step.to_state)
    if source is None or target is None or not can_transition(source, target):
        return [Violation("history_illegal", job_id, f"{where} is not a legal transition")]
    retry = source == JobState.FAILED
    if step.attempt != before.attempt + (1 if retry else 0):
        expected = "one more than" if retry else "the same as"
        return [Violation("history_attempt", job_id, f"{where}: the attempt must be {expected} the entry before")]
    return []


# -- liveness --------------------------------------------------------------------------------------


def _check_liveness(
    job: _JobFacts, *, now: datetime, grace: timedelta, stall_after: timedelta | None
) -> list[Violation]:
    if job.state in _TERMINAL_VALUES:
        found: list[Violation] = []
        if job.finished_at is None:
            found.append(
                Violation("terminal_without_finished_at", job.id, f"the job is {job.state} without finished_at")
            )
        if job.state == JobState.FAILED.value and not job.error_code:
            found.append(Violation("failed_without_error", job.id, "the job failed without an error code"))
        return found
    if now > job.deadline_at + grace:
        return [
            Violation(
                "active_past_deadline",
                job.id,
                f"the job is still {job.state} after its deadline {job.deadline_at.isoformat()}",
            )
        ]
    stalled_since = _stalled_since(job, now) if stall_after is not None else None
    if stall_after is not None and stalled_since is not None and now - stalled_since > stall_after:
        return [
            Violation(
                "active_job_stalled",
                job.id,
                f"the job is {job.state} and was due at {stalled_since.isoformat()}, "
                f"more than {stall_after.total_seconds():.0f}s ago",
            )
        ]
    return []


def _stalled_since(job: _JobFacts, now: datetime) -> datetime | None:
    """Since when nobody works on an active job: it is due (or its lease expired) and no worker holds it."""
    if job.lease_until is not None and job.lease_until > now:
        return None
    marks = [t for t in (job.next_due_at, job.lease_until) if t is not None]
    return max(marks) if marks else None


# -- one active job per VM ---------------------------------------------------------------------------


def active_intervals(steps: Iterable[Step]) -> list[tuple[datetime, datetime | None]]:
    """When a job was active, from its history: from acceptance (or a retry) to each terminal state."""
    intervals: list[tuple[datetime, datetime | None]] = []
    start: datetime | None = None
    for step in steps:
        entering = step.from_state is None or step.from_state in _TERMINAL_VALUES
        if entering and step.to_state not in _TERMINAL_VALUES and start is None:
            start = step.at
        elif step.to_state in _TERMINAL_VALUES and start is not None:
            intervals.append((start, step.at))
            start = None
    if start is not None:
        intervals.append((start, None))
    return intervals


def _check_one_active_per_vm(jobs: list[_JobFacts], *, tolerance: timedelta, now: datetime) -> list[Violation]:
    by_vm: dict[str, list[tuple[datetime, datetime, str]]] = defaultdict(list)
    for job in jobs:
        for start, end in active_intervals(job.steps):
            by_vm[job.vm_key].append((start, end or max(now, start), job.id))
    found: list[Violation] = []
    for vm_key, intervals in by_vm.items():
        intervals.sort()
        for index, (start, end, job_id) in enumerate(intervals):
            for other_start, _, other_id in intervals[index + 1 :]:
                if other_start >= end - tolerance:
                    break
                if other_id != job_id:
                    found.append(
                        Violation(
                            "two_active_jobs",
                            other_id,
                            f"active from {other_start.isoformat()} while job {job_id} was active "
                            f"({start.isoformat()} .. {end.isoformat()}) for the same VM {vm_key}",
                        )
                    )
    return found


# -- switch protection -------------------------------------------------------------------------------


def submissions_allowed(steps: Iterable[Step]) -> int:
    """Attempts that went past ``submitting`` (on to ``reprotecting``, or failed there): one call each."""
    return len({s.attempt for s in steps if s.from_state == JobState.SUBMITTING.value and s.to_state in _PAST_SUBMIT})


def submissions_required(steps: Iterable[Step]) -> int:
    """Attempts that moved ``submitting -> reprotecting``: each needs a switch protection that reached Azure."""
    return len(
        {
            s.attempt
            for s in steps
            if s.from_state == JobState.SUBMITTING.value and s.to_state == JobState.REPROTECTING.value
        }
    )


_PAST_SUBMIT = frozenset({JobState.REPROTECTING.value, JobState.FAILED.value})


def _check_switch_protection(jobs: list[_JobFacts], calls_by_item: Mapping[str, int]) -> list[Violation]:
    allowed: Counter[str] = Counter()
    required: Counter[str] = Counter()
    job_of: dict[str, str] = {}
    for job in jobs:
        name = job.item_name.lower()
        allowed[name] += submissions_allowed(job.steps)
        required[name] += submissions_required(job.steps)
        job_of[name] = job.id
    calls: Counter[str] = Counter()
    for item, count in calls_by_item.items():
        calls[item.lower()] += count
    found: list[Violation] = []
    for name in sorted(set(calls) | set(required)):
        if calls[name] > allowed[name]:
            found.append(
                Violation(
                    "switch_protection_repeated",
                    job_of.get(name),
                    f"switch protection reached Azure {calls[name]} time(s) for item {name}, "
                    f"but only {allowed[name]} job attempt(s) went past submitting",
                )
            )
        if calls[name] < required[name]:
            found.append(
                Violation(
                    "switch_protection_missing",
                    job_of.get(name),
                    f"{required[name]} job attempt(s) of item {name} moved to reprotecting, "
                    f"but switch protection reached Azure {calls[name]} time(s)",
                )
            )
    return found


# -- webhook events ----------------------------------------------------------------------------------


def terminal_attempts(steps: Iterable[Step]) -> dict[int, str]:
    """The terminal state each attempt ended in (attempts still running are absent)."""
    return {s.attempt: s.to_state for s in steps if s.to_state in _TERMINAL_VALUES}


def _check_terminal_events(jobs: list[_JobFacts], events: list[WebhookEvent]) -> list[Violation]:
    emitted: dict[tuple[str, int | None], list[WebhookEvent]] = defaultdict(list)
    for event in events:
        if event.type in _TERMINAL_EVENT_TYPES and event.job_id is not None:
            emitted[(str(event.job_id), event.job_attempt)].append(event)
    found: list[Violation] = []
    expected: set[tuple[str, int | None]] = set()
    for job in jobs:
        for attempt, state in sorted(terminal_attempts(job.steps).items()):
            expected.add((job.id, attempt))
            found += _check_attempt_events(job.id, attempt, state, emitted.get((job.id, attempt), []))
    for key, stray in sorted(emitted.items(), key=lambda kv: (kv[0][0], kv[0][1] or 0)):
        if key not in expected:
            found.append(
                Violation(
                    "terminal_event_unexpected",
                    key[0],
                    f"{len(stray)} terminal event(s) for attempt {key[1]}, which did not end terminal",
                )
            )
    return found


def _check_attempt_events(job_id: str, attempt: int, state: str, events: list[WebhookEvent]) -> list[Violation]:
    if len(events) != 1:
        code = "terminal_event_missing" if not events else "terminal_event_repeated"
        ids = ", ".join(e.id for e in events)
        return [Violation(code, job_id, f"attempt {attempt} ended {state} with {len(events)} terminal event(s) {ids}")]
    if _TERMINAL_EVENT_TYPES[events[0].type] != state:
        return [
            Violation(
                "terminal_event_wrong_type",
                job_id,
                f"attempt {attempt} ended {state} but its event {events[0].id} is {events[0].type}",
            )
        ]
    return []


def _check_requests(session: Session, jobs: list[_JobFacts], events: list[WebhookEvent]) -> list[Violation]:
    states: dict[uuid.UUID, list[str]] = defaultdict(list)
    for job in jobs:
        states[job.request_id].append(job.state)
    completed_events = Counter(e.request_id for e in events if e.type == EventType.REQUEST_COMPLETED.value)
    found: list[Violation] = []
    for request in session.scalars(select(ReprotectRequest)):
        done = all(s in _TERMINAL_VALUES for s in states.get(request.id, []))
        where = f"request {request.id}"
        if done and request.completed_at is None:
            found.append(Violation("request_not_completed", None, f"{where}: every job is terminal, no completed_at"))
        if done and completed_events[request.id] == 0:
            found.append(
                Violation("request_event_missing", None, f"{where}: every job is terminal, no completed event")
            )
        if not done and request.completed_at is not None:
            found.append(Violation("request_completed_early", None, f"{where}: completed while a job is active"))
    return found


def _check_delivered(events: list[WebhookEvent], delivered: set[str]) -> list[Violation]:
    wanted = set(_TERMINAL_EVENT_TYPES) | {EventType.REQUEST_COMPLETED.value}
    return [
        Violation(
            "event_not_delivered",
            str(e.job_id) if e.job_id else None,
            f"event {e.id} ({e.type}) never reached the receiver",
        )
        for e in events
        if e.type in wanted and e.id not in delivered
    ]


# -- campaigns ---------------------------------------------------------------------------------------
#
# ``check_campaigns(session, ...)`` adds the rules of campaigns and of jobs of every kind (``check`` above
# was written for reprotect jobs: pass it no ``switch_calls_by_item`` when other kinds ran):
# - one ASR operation per job attempt, per item and operation: at most one per attempt that went past
#   ``submitting``, at least one per attempt that moved ``submitting -> reprotecting``;
# - each started step accounts for each of its VMs exactly once (a job of the step's kind, skipped or refused),
#   a done step's jobs are all protected, a completed campaign's steps are all done;
# - a step starts only after the step before it is done: its jobs are accepted after the previous step's jobs
#   ended (so a wave's failover never starts before the previous wave's);
# - no step started twice: one ``step_completed`` event per done step (one ``completed`` per completed
#   campaign) and, when the campaign's VMs got jobs only from it (``exclusive``), no job of a campaign phase
#   on its VMs outside the steps' records.

OPERATION_OF_KIND = {
    "reprotect": SWITCH_PROTECTION,
    "reprotect_back": SWITCH_PROTECTION,
    "drill": "ReplicationProtectedItems_TestFailover",
    "drill_cleanup": "ReplicationProtectedItems_TestFailoverCleanup",
    "failover": "ReplicationProtectedItems_UnplannedFailover",
    "commit": "ReplicationProtectedItems_FailoverCommit",
}
# What else counts as the same submission: switch protection's older call and a failed job's restart.
_SAME_SUBMISSION = {SWITCH_PROTECTION: (SWITCH_PROTECTION, "ReplicationProtectedItems_Reprotect", JOB_RESTART)}
_STEP_COMPLETED = EventType.CAMPAIGN_STEP_COMPLETED.value
_CAMPAIGN_COMPLETED = EventType.CAMPAIGN_COMPLETED.value


def check_campaigns(
    session: Session,
    *,
    calls_by_item: Mapping[str, Mapping[str, int]] | None = None,
    clock_tolerance: timedelta = timedelta(milliseconds=500),
    exclusive: bool = False,
) -> list[Violation]:
    """Every broken rule of the campaigns and of the ASR operations of jobs of every kind; empty when all hold.

    ``calls_by_item``: the emulator's ``calls_by_item`` (``GET /_emulator/stats``); without it the operation
    rule is skipped. ``exclusive``: the campaigns' VMs got jobs from their campaign only.
    """
    from app.campaign.models import Campaign  # campaigns are optional to the job rules above

    jobs = {job.id: job for job in _load_jobs(session)}
    kinds = {str(job_id): kind for job_id, kind in session.execute(select(Job.id, Job.kind))}
    found: list[Violation] = []
    if calls_by_item is not None:
        found += check_operations(list(jobs.values()), kinds, calls_by_item)
    events: Counter[tuple[str, str, int | None]] = Counter()
    for event in session.scalars(
        select(WebhookEvent).where(WebhookEvent.type.in_([_STEP_COMPLETED, _CAMPAIGN_COMPLETED]))
    ):
        data = event.payload.get("data") or {}
        step = data.get("step") or {}
        events[(event.type, str(data.get("campaign_id")), step.get("position"))] += 1
    for campaign in session.scalars(select(Campaign)):
        found += _check_campaign(campaign, jobs, kinds, events, clock_tolerance, exclusive=exclusive)
    return found


def check_operations(
    jobs: Iterable[_JobFacts], kinds: Mapping[str, str], calls_by_item: Mapping[str, Mapping[str, int]]
) -> list[Violation]:
    """Per item and ASR operation, the calls that reached Azure against the attempts of the jobs that send it."""
    allowed: Counter[tuple[str, str]] = Counter()
    required: Counter[tuple[str, str]] = Counter()
    job_of: dict[tuple[str, str], str] = {}
    for job in jobs:
        operation = OPERATION_OF_KIND.get(kinds.get(job.id, "reprotect"))
        if operation is None:
            continue
        key = (job.item_name.lower(), operation)
        allowed[key] += submissions_allowed(job.steps)
        required[key] += submissions_required(job.steps)
        job_of[key] = job.id
    calls: Counter[tuple[str, str]] = Counter()
    for item, counts in calls_by_item.items():
        for operation in set(OPERATION_OF_KIND.values()):
            calls[(item.lower(), operation)] += sum(
                int(counts.get(name, 0)) for name in _SAME_SUBMISSION.get(operation, (operation,))
            )
    found: list[Violation] = []
    for key in sorted(set(allowed) | {k for k, n in calls.items() if n}):
        (item, operation), sent = key, calls[key]
        if sent > allowed[key]:
            found.append(
                Violation(
                    "operation_repeated",
                    job_of.get(key),
                    f"{operation} reached Azure {sent} time(s) for item {item}, but only {allowed[key]} "
                    "job attempt(s) of that operation went past submitting",
                )
            )
        if sent < required[key]:
            found.append(
                Violation(
                    "operation_missing",
                    job_of.get(key),
                    f"{required[key]} job attempt(s) of item {item} moved to reprotecting after {operation}, "
                    f"but it reached Azure {sent} time(s)",
                )
            )
    return found


def _check_campaign(
    campaign: Any,
    jobs: Mapping[str, _JobFacts],
    kinds: Mapping[str, str],
    events: Counter[tuple[str, str, int | None]],
    tolerance: timedelta,
    *,
    exclusive: bool,
) -> list[Violation]:
    cid = str(campaign.id)
    found: list[Violation] = []
    previous_end: tuple[int, datetime] | None = None  # the last step that ran: its position, when its jobs ended
    for step in campaign.steps:
        where = f"campaign {cid} step {step.position} ({step.phase}" + (f" wave {step.wave})" if step.wave else ")")
        if step.state == "pending":
            if step.jobs or step.started_at is not None:
                found.append(Violation("campaign_pending_step_started", None, f"{where} is pending but has jobs"))
            if campaign.state == "completed":
                found.append(Violation("campaign_completed_early", None, f"{where} is pending in a completed campaign"))
            continue
        expected = {vm.vm_key for vm in campaign.vms if step.wave is None or vm.wave == step.wave}
        found += check_step_vms(where, expected, dict(step.jobs), set(step.skipped), set(step.refused))
        step_jobs = [jobs[job_id] for job_id in step.jobs.values() if job_id in jobs]
        for job in step_jobs:
            if kinds.get(job.id) != step.phase:
                found.append(Violation("campaign_step_job_kind", job.id, f"{where} holds a {kinds.get(job.id)} job"))
            if step.state == "done" and job.state != JobState.PROTECTED.value:
                found.append(Violation("campaign_step_done_early", job.id, f"{where} is done, its job is {job.state}"))
        started = min((j.steps[0].at for j in step_jobs if j.steps), default=None)
        if previous_end is not None and started is not None and started < previous_end[1] - tolerance:
            found.append(
                Violation(
                    "campaign_step_overlap",
                    None,
                    f"{where}: a job was accepted at {started.isoformat()}, before the jobs of step "
                    f"{previous_end[0]} ended ({previous_end[1].isoformat()})",
                )
            )
        ends = [_last_terminal(job) for job in step_jobs]
        if ends and all(ends):
            previous_end = (step.position, max(e for e in ends if e is not None))
        completed_events = events[(_STEP_COMPLETED, cid, step.position)]
        if completed_events > 1 or (step.state == "done" and step.jobs and completed_events == 0):
            found.append(
                Violation(
                    "campaign_step_events", None, f"{where} is {step.state} with {completed_events} completed event(s)"
                )
            )
    if campaign.state == "completed" and events[(_CAMPAIGN_COMPLETED, cid, None)] != 1:
        count = events[(_CAMPAIGN_COMPLETED, cid, None)]
        found.append(Violation("campaign_completed_events", None, f"campaign {cid} completed with {count} event(s)"))
    if exclusive:
        found += _stray_jobs(campaign, jobs, kinds, tolerance)
    return found


def check_step_vms(
    where: str, expected: set[str], jobs: Mapping[str, str], skipped: set[str], refused: set[str]
) -> list[Violation]:
    """A started step accounts for each of its VMs exactly once: a job, skipped or refused."""
    seen = Counter([*jobs, *skipped, *refused])
    twice = sorted(key for key, count in seen.items() if count > 1)
    missing = sorted(expected - set(seen))
    foreign = sorted(set(seen) - expected)
    if not (twice or missing or foreign):
        return []
    return [
        Violation(
            "campaign_step_vms",
            None,
            f"{where}: VMs counted twice {twice}, without a job or a reason {missing}, not of the step {foreign}",
        )
    ]


def _last_terminal(job: _JobFacts) -> datetime | None:
    """When the job last ended (None while it runs)."""
    if job.state not in _TERMINAL_VALUES:
        return None
    return max((s.at for s in job.steps if s.to_state in _TERMINAL_VALUES), default=None)


def _stray_jobs(
    campaign: Any, jobs: Mapping[str, _JobFacts], kinds: Mapping[str, str], tolerance: timedelta
) -> list[Violation]:
    """Jobs of a campaign phase on its VMs, accepted while it ran, that no step recorded (a step started twice)."""
    recorded = {job_id for step in campaign.steps for job_id in step.jobs.values()}
    keys = {vm.vm_key for vm in campaign.vms}
    phases = {step.phase for step in campaign.steps}
    since = campaign.created_at - tolerance
    until = campaign.finished_at + tolerance if campaign.finished_at else None
    return [
        Violation("campaign_stray_job", job.id, f"a {kinds.get(job.id)} job of campaign {campaign.id}'s VM "
                  f"{job.vm_key} that no step recorded")
        for job in jobs.values()
        if job.vm_key in keys and kinds.get(job.id) in phases and job.id not in recorded and job.steps
        and job.steps[0].at >= since and (until is None or job.steps[0].at <= until)
    ]  # fmt: skip
