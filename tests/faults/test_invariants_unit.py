"""The invariant checker on hand-built rows: a clean history passes, and each broken rule is reported."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import create_engine, text, update
from sqlalchemy.orm import Session, sessionmaker

from app.job.models import Job, JobTransition, ReprotectRequest
from app.webhook.models import WebhookEvent
from tests import invariants
from tests.conftest import TABLES

T0 = datetime(2025, 1, 1, 12, 0, tzinfo=UTC)
VAULT = "/subscriptions/s1/resourceGroups/rg/providers/Microsoft.RecoveryServices/vaults/v1"
HAPPY = ["accepted", "validating", "submitting", "reprotecting", "syncing", "protected"]
EVENT_OF = {
    "protected": "reprotect.job.succeeded",
    "failed": "reprotect.job.failed",
    "cancelled": "reprotect.job.cancelled",
}


@pytest.fixture
def session(database_url) -> Iterator[Session]:
    """A session on the migrated test database, emptied first."""
    engine = create_engine(database_url)
    with engine.begin() as connection:
        for table in TABLES:
            connection.execute(text(f"DELETE FROM {table}"))
    with sessionmaker(bind=engine)() as db:
        yield db
    engine.dispose()


@dataclass
class Built:
    """A request with its jobs, written as the service would write them."""

    session: Session
    request: ReprotectRequest
    clock: datetime = T0
    jobs: list[Job] = field(default_factory=list)

    def tick(self) -> datetime:
        self.clock += timedelta(seconds=1)
        return self.clock

    def job(self, vm: str, path: list[str | tuple[str, int]], *, events: bool = True) -> Job:
        """A job that went through ``path`` (``(state, attempt)`` for a retry's entry), with its events."""
        job = Job(
            id=uuid.uuid4(),
            request=self.request,
            vm_key=f"v1/{vm}",
            vm_name=vm,
            vault_id=VAULT,
            subscription_id="s1",
            item_id=f"{VAULT}/replicationFabrics/f/replicationProtectionContainers/c/replicationProtectedItems/{vm}",
            state="accepted",
            attempt=1,
            deadline_at=T0 + timedelta(hours=48),
            created_at=self.clock,
            updated_at=self.clock,
        )
        self.session.add(job)
        self.session.flush()  # events reference the job without a relationship: the row must exist first
        previous: str | None = None
        for entry in path:
            state, attempt = entry if isinstance(entry, tuple) else (entry, job.attempt)
            self.move(job, previous, state, attempt, event=events)
            previous = state
        self.jobs.append(job)
        return job

    def move(self, job: Job, previous: str | None, state: str, attempt: int, *, event: bool = True) -> None:
        """Append one history entry and apply it to the row (with its terminal event)."""
        at = self.tick()
        job.state, job.attempt = state, attempt
        self.session.add(JobTransition(job=job, attempt=attempt, from_state=previous, to_state=state, at=at))
        if state in EVENT_OF:
            job.finished_at = at
            job.error_code = "151195" if state == "failed" else None
            if event:
                self.event(EVENT_OF[state], job=job, attempt=attempt)
        else:
            job.finished_at = None

    def event(self, event_type: str, *, job: Job | None = None, attempt: int | None = None) -> WebhookEvent:
        row = WebhookEvent(
            id=f"msg_{uuid.uuid4().hex}",
            type=event_type,
            created_at=self.clock,
            payload={},
            request_id=self.request.id,
            job_id=job.id if job else None,
            job_attempt=attempt,
        )
        self.session.add(row)
        return row

    def complete(self) -> None:
        self.request.completed_at = self.clock
        self.event("reprotect.request.completed")
        self.session.flush()


def _request(session: Session) -> Built:
    request = ReprotectRequest(id=uuid.uuid4(), created_at=T0, vm_count=1)
    session.add(request)
    return Built(session, request)


def _codes(session: Session, **kwargs) -> list[str]:
    session.flush()
    return sorted(v.code for v in invariants.check(session, now=T0 + timedelta(minutes=5), **kwargs))


@pytest.fixture
def clean(session) -> Built:
    """Two VMs protected, one failed then retried to protected, one cancelled: every rule holds."""
    built = _request(session)
    built.job("web-01", HAPPY)
    built.job("app-01", [*HAPPY[:4], "failed", ("validating", 2), "submitting", "reprotecting", "syncing", "protected"])
    built.job("db-01", ["accepted", "validating", "cancelled"])
    built.complete()
    return built


CLEAN_CALLS = {"web-01": 1, "app-01": 2, "db-01": 0}


def test_a_clean_history_has_no_violations(clean):
    assert _codes(clean.session, switch_calls_by_item=CLEAN_CALLS) == []


def test_the_emulator_stats_are_read_per_item():
    stats = {"calls_by_item": {"web-01": {invariants.SWITCH_PROTECTION: 2, "X_Get": 9}, "app-01": {"X_Get": 1}}}
    assert invariants.switch_calls_from_stats(stats) == {"web-01": 2, "app-01": 0}


def test_a_duplicated_transition_is_a_gap(clean):
    job = clean.jobs[0]
    clean.session.add(JobTransition(job=job, attempt=1, from_state="submitting", to_state="reprotecting", at=T0))
    codes = _codes(clean.session)
    assert "history_gap" in codes


def test_an_illegal_step_is_reported(session):
    built = _request(session)
    built.job("web-01", ["accepted", "submitting", "reprotecting", "syncing", "protected"])
    built.complete()
    assert _codes(session) == ["history_illegal"]


def test_a_history_must_start_with_acceptance(session):
    built = _request(session)
    job = built.job("web-01", HAPPY)
    built.complete()
    first = min(t.id for t in job.transitions)
    session.execute(update(JobTransition).where(JobTransition.id == first).values(from_state="validating"))
    assert _codes(session) == ["history_bad_start"]


def test_a_job_without_history_is_reported(session):
    built = _request(session)
    built.job("web-01", [])
    assert "history_empty" in _codes(session)


def test_the_history_must_end_in_the_jobs_state(clean):
    clean.jobs[0].state = "syncing"
    assert "history_state_mismatch" in _codes(clean.session)


def test_a_retry_must_start_a_new_attempt(session):
    built = _request(session)
    built.job("web-01", [*HAPPY[:4], "failed", ("validating", 1), "submitting", "reprotecting", "syncing", "protected"])
    built.complete()
    assert "history_attempt" in _codes(session)


def test_a_terminal_job_needs_finished_at_and_a_failure_its_code(session):
    built = _request(session)
    built.job("web-01", HAPPY).finished_at = None
    built.job("app-01", ["accepted", "validating", "failed"]).error_code = None
    built.complete()
    assert _codes(session) == ["failed_without_error", "terminal_without_finished_at"]


def test_an_active_job_past_its_deadline_is_stuck(session):
    built = _request(session)
    job = built.job("web-01", HAPPY[:4])
    job.deadline_at = T0 + timedelta(minutes=1)
    assert _codes(session) == ["active_past_deadline"]


def test_an_active_job_nobody_works_on_is_stalled_when_asked(session):
    built = _request(session)
    job = built.job("web-01", HAPPY[:4])
    job.next_due_at = T0
    assert _codes(session) == []
    assert _codes(session, stall_after=timedelta(minutes=1)) == ["active_job_stalled"]
    job.lease_until = T0 + timedelta(hours=1)  # a worker holds it: not stalled
    assert _codes(session, stall_after=timedelta(minutes=1)) == []


def test_two_jobs_active_at_once_for_one_vm_are_reported(session):
    # Both ended, so the partial unique index is satisfied now; only the histories show the overlap.
    built = _request(session)
    built.job("web-01", HAPPY)
    second = built.job("web-01", HAPPY)
    built.complete()
    assert _codes(session) == []
    for step in second.transitions:
        step.at -= timedelta(seconds=4)
    assert _codes(session) == ["two_active_jobs"]


def test_a_vm_may_have_a_new_job_after_the_last_ended(session):
    built = _request(session)
    built.job("web-01", ["accepted", "validating", "failed"])
    built.job("web-01", HAPPY)
    built.complete()
    assert _codes(session, switch_calls_by_item={"web-01": 1}) == []


def test_a_second_switch_protection_in_one_attempt_is_reported(clean):
    calls = {**CLEAN_CALLS, "web-01": 2}
    assert _codes(clean.session, switch_calls_by_item=calls) == ["switch_protection_repeated"]


def test_switch_protection_on_a_vm_without_a_job_is_reported(clean):
    calls = {**CLEAN_CALLS, "hr-01": 1}
    assert _codes(clean.session, switch_calls_by_item=calls) == ["switch_protection_repeated"]


def test_a_protected_job_without_switch_protection_is_reported(clean):
    calls = {**CLEAN_CALLS, "web-01": 0}
    assert _codes(clean.session, switch_calls_by_item=calls) == ["switch_protection_missing"]


def test_a_failure_while_submitting_may_have_called_azure(session):
    built = _request(session)
    built.job("web-01", ["accepted", "validating", "submitting", "failed"])
    built.complete()
    assert _codes(session, switch_calls_by_item={"web-01": 1}) == []
    assert _codes(session, switch_calls_by_item={"web-01": 2}) == ["switch_protection_repeated"]


def test_a_terminal_attempt_without_its_event_is_reported(session):
    built = _request(session)
    built.job("web-01", HAPPY, events=False)
    built.complete()
    assert _codes(session) == ["terminal_event_missing"]


def test_a_terminal_event_written_twice_is_reported(clean):
    clean.event("reprotect.job.succeeded", job=clean.jobs[0], attempt=1)
    assert _codes(clean.session) == ["terminal_event_repeated"]


def test_each_attempt_of_a_retried_job_has_its_own_terminal_event(clean):
    retried = clean.jobs[1]
    clean.session.flush()
    clean.session.execute(
        update(WebhookEvent)
        .where(WebhookEvent.job_id == retried.id, WebhookEvent.job_attempt == 1)
        .values(job_attempt=2)
    )
    assert _codes(clean.session) == ["terminal_event_missing", "terminal_event_repeated"]


def test_a_terminal_event_of_the_wrong_type_is_reported(clean):
    clean.session.flush()
    clean.session.execute(
        update(WebhookEvent).where(WebhookEvent.job_id == clean.jobs[0].id).values(type="reprotect.job.failed")
    )
    assert _codes(clean.session) == ["terminal_event_wrong_type"]


def test_a_terminal_event_for_a_running_attempt_is_reported(session):
    built = _request(session)
    job = built.job("web-01", HAPPY[:4])
    built.event("reprotect.job.failed", job=job, attempt=1)
    assert _codes(session) == ["terminal_event_unexpected"]


def test_a_finished_request_must_be_completed_with_its_event(session):
    built = _request(session)
    built.job("web-01", HAPPY)
    assert _codes(session) == ["request_event_missing", "request_not_completed"]


def test_a_request_with_an_active_job_is_not_completed(session):
    built = _request(session)
    built.job("web-01", HAPPY[:4])
    built.request.completed_at = T0
    assert _codes(session) == ["request_completed_early"]


def test_events_never_delivered_are_reported_when_deliveries_are_given(clean):
    clean.session.flush()
    ids = {e.id for e in clean.session.query(WebhookEvent)}
    assert _codes(clean.session, delivered_event_ids=ids) == []
    missing = sorted(ids)[0]
    assert _codes(clean.session, delivered_event_ids=ids - {missing}) == ["event_not_delivered"]
