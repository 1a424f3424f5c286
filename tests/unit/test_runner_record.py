"""Recording a step: the transition and its reason in the history, what the job learned, its error, ETA and next due time."""

from __future__ import annotations

import random
from dataclasses import asdict
from datetime import timedelta

import pytest

from app.cloud.types import AsrTask
from app.db import transaction
from app.job import runner
from app.job.models import JobTransition
from app.job.plan import PlannedResource, ReprotectDirection, ReprotectPlan
from app.job.runner import Advanced, Outcome
from app.job.states import JobState
from app.job.steps import Learned, StepResult
from app.settings import JobSettings
from tests.unit.job_rows import NOW, add_job, empty_database, read_job

SETTINGS = JobSettings(
    poll_interval_seconds=30,
    min_poll_interval_seconds=5,
    transient_backoff_base_seconds=10,
    transient_backoff_max_seconds=1000,
)
HELD = {"lease_owner": "w1", "lease_until": NOW + timedelta(seconds=60), "dispatched_at": NOW - timedelta(seconds=10)}


@pytest.fixture(autouse=True)
def _seeded():
    random.seed(20260301)


@pytest.fixture
def sessions(database_url):
    with empty_database(database_url) as sessions:
        yield sessions


def held(sessions, **fields):
    return add_job(sessions, **{**HELD, **fields})


def record(sessions, job_id, outcome, *, worker="w1", settings=SETTINGS):
    with transaction(sessions) as session:
        return runner.record(session, job_id=job_id, worker=worker, outcome=outcome, settings=settings, now=NOW)


def history_of(job):
    return [(t.from_state, t.to_state, t.actor, t.reason, t.at, t.attempt) for t in job.transitions]


def plan(estimated_seconds: float) -> dict:
    resource = PlannedResource(id="/subscriptions/s/resourceGroups/rg", name="rg", status="existing")
    return ReprotectPlan(
        vm="vm1",
        item_id="item",
        vault_id="vault",
        direction=ReprotectDirection("UK West", "UK South", "ukwest", "uksouth"),
        recovery_container_id="c",
        policy_id="p",
        target_resource_group=resource,
        network=resource,
        cache_storage_account=resource,
        availability_set=None,
        proximity_placement_group=None,
        disks=(),
        estimated_seconds=estimated_seconds,
    ).to_json()


# --- transitions and the lease ----------------------------------------------------------------------------------


def test_a_transition_goes_into_the_history_by_the_worker_and_the_lease_is_let_go(sessions):
    job_id = held(sessions)
    outcome = Outcome(result=StepResult(to_state=JobState.VALIDATING, reason="picked up by a worker"), delay=12.0)

    advanced = record(sessions, job_id, outcome)

    assert advanced == Advanced(job_id=job_id, ran=True, state=JobState.VALIDATING, due_in=12.0)
    job = read_job(sessions, job_id)
    assert job.state == "validating"
    assert history_of(job)[-1] == ("accepted", "validating", "worker", "picked up by a worker", NOW, 1)
    assert (job.lease_owner, job.lease_until, job.dispatched_at) == (None, None, None)
    assert job.next_due_at == NOW + timedelta(seconds=12)
    assert (job.failed_in, job.error_code, job.submitted_at) == (None, None, None)


def test_a_failure_records_where_it_failed_and_the_error_operators_see(sessions):
    job_id = held(sessions, state="submitting", submitted_at=None)
    failed = StepResult(
        to_state=JobState.FAILED,
        reason="Azure refused",
        error_code="InvalidInput",
        error_message="Azure refused",
        error_details={"target": "disk"},
    )

    advanced = record(sessions, job_id, Outcome(result=failed, delay=0.0))

    assert advanced == Advanced(job_id=job_id, ran=True, state=JobState.FAILED, due_in=None)
    job = read_job(sessions, job_id)
    assert (job.state, job.failed_in) == ("failed", "submitting")
    assert (job.error_code, job.error_message, job.error_details) == (
        "InvalidInput",
        "Azure refused",
        {"target": "disk"},
    )
    assert (job.finished_at, job.next_due_at, job.eta_at, job.submitted_at) == (NOW, None, None, None)
    assert history_of(job)[-1][:4] == ("submitting", "failed", "worker", "Azure refused")


def test_reaching_reprotecting_stamps_the_submission_time_once(sessions):
    first = held(sessions, name="vm1", state="submitting")
    earlier = NOW - timedelta(hours=1)
    again = held(sessions, name="vm2", state="submitting", submitted_at=earlier)
    result = StepResult(to_state=JobState.REPROTECTING, reason="switch protection submitted (ASR job a)")

    record(sessions, first, Outcome(result=result))
    record(sessions, again, Outcome(result=result))

    assert read_job(sessions, first).submitted_at == NOW
    assert read_job(sessions, again).submitted_at == earlier


def test_a_step_without_a_transition_leaves_the_state_and_history_alone(sessions):
    job_id = held(sessions, state="reprotecting")

    advanced = record(sessions, job_id, Outcome(result=StepResult(), delay=None))

    assert advanced == Advanced(job_id=job_id, ran=True, state=JobState.REPROTECTING, due_in=30.0)
    job = read_job(sessions, job_id)
    assert [h[1] for h in history_of(job)] == ["accepted"]
    assert (job.updated_at, job.next_due_at) == (NOW, NOW + timedelta(seconds=30))


@pytest.mark.parametrize(
    "taken",
    [
        pytest.param({"lease_owner": "w2"}, id="lease-taken-over"),
        pytest.param({"state": "cancelled"}, id="cancelled-meanwhile"),
    ],
)
def test_a_worker_that_no_longer_holds_the_job_records_nothing(sessions, taken):
    job_id = held(sessions, **taken)
    before = read_job(sessions, job_id)
    outcome = Outcome(result=StepResult(to_state=JobState.VALIDATING, reason="picked up by a worker"), delay=1.0)

    advanced = record(sessions, job_id, outcome)

    assert advanced == Advanced(job_id=job_id, ran=True, state=None, due_in=None)
    after = read_job(sessions, job_id)
    assert (after.state, after.version, after.lease_owner, after.next_due_at) == (
        before.state,
        before.version,
        before.lease_owner,
        before.next_due_at,
    )


def test_recording_one_job_touches_no_other(sessions):
    mine = held(sessions, name="vm1")
    other = held(sessions, name="vm2")

    record(sessions, mine, Outcome(result=StepResult(to_state=JobState.VALIDATING, reason="r"), delay=1.0))

    row = read_job(sessions, other)
    assert (row.state, row.lease_owner) == ("accepted", "w1")


# --- what the job learned ---------------------------------------------------------------------------------------


def test_everything_the_step_learned_is_written_onto_the_row(sessions):
    job_id = held(sessions, state="reprotecting")
    tasks = (AsrTask("t1", "Switch protection", "InProgress", "In progress", "2026-03-01T11:00:00Z", None),)
    learned = Learned(
        plan=ReprotectPlan.from_json(plan(1800.0)),
        asr_job_name="asr-1",
        asr_job_id="/subscriptions/s/replicationJobs/asr-1",
        asr_job_state="InProgress",
        asr_tasks=tasks,
        new_item_id="/subscriptions/s/new",
        resync_percent=42,
    )

    record(sessions, job_id, Outcome(result=StepResult(learned=learned)))

    job = read_job(sessions, job_id)
    assert job.plan == plan(1800.0)
    assert (job.asr_job_name, job.asr_job_id, job.asr_job_state) == (
        "asr-1",
        "/subscriptions/s/replicationJobs/asr-1",
        "InProgress",
    )
    assert job.asr_tasks == [asdict(tasks[0])]
    assert (job.new_item_id, job.resync_percent) == ("/subscriptions/s/new", 42)


def test_what_the_step_did_not_learn_keeps_its_recorded_value(sessions):
    known = {
        "plan": plan(900.0),
        "asr_job_name": "asr-0",
        "asr_job_id": "/subscriptions/s/replicationJobs/asr-0",
        "asr_job_state": "Succeeded",
        "asr_tasks": [{"task_id": "t0"}],
        "new_item_id": "/subscriptions/s/old",
        "resync_percent": 7,
    }
    job_id = held(sessions, state="syncing", **known)

    record(sessions, job_id, Outcome(result=StepResult(learned=Learned())))

    job = read_job(sessions, job_id)
    assert {key: getattr(job, key) for key in known} == known


# --- when the job is due again ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("delay", "wait"),
    [
        pytest.param(None, 30.0, id="poll-interval-by-default"),
        pytest.param(0.0, 0.0, id="at-once"),
        pytest.param(-3.0, 0.0, id="never-in-the-past"),
        pytest.param(0.5, 5.0, id="raised-to-the-minimum"),
        pytest.param(7.0, 7.0, id="as-asked"),
    ],
)
def test_the_next_look_is_due_after_the_recorded_wait(sessions, delay, wait):
    job_id = held(sessions, state="reprotecting")

    advanced = record(sessions, job_id, Outcome(result=StepResult(), delay=delay))

    assert advanced.due_in == wait
    assert read_job(sessions, job_id).next_due_at == NOW + timedelta(seconds=wait)


def test_a_transient_failure_backs_off_exponentially_counting_failures(sessions):
    job_id = held(sessions, state="reprotecting", transient_failures=2)
    outcome = Outcome(result=StepResult(reason="transient Azure error: reset"), transient=True)

    advanced = record(sessions, job_id, outcome)

    job = read_job(sessions, job_id)
    assert job.transient_failures == 3
    assert advanced.due_in is not None
    assert 20.0 <= advanced.due_in <= 40.0  # 10 s · 2² with jitter between half and full
    assert job.next_due_at == NOW + timedelta(seconds=advanced.due_in)


def test_a_transient_failure_never_comes_back_before_azures_retry_after(sessions):
    job_id = held(sessions, state="reprotecting")
    outcome = Outcome(result=StepResult(reason="transient Azure error: busy"), transient=True, retry_after=500.0)

    advanced = record(sessions, job_id, outcome)

    assert advanced.due_in is not None
    assert 500.0 <= advanced.due_in <= 750.0


def test_a_short_transient_backoff_is_not_stretched_to_the_poll_minimum(sessions):
    job_id = held(sessions, state="reprotecting")
    quick = SETTINGS.model_copy(update={"transient_backoff_base_seconds": 0.01})

    advanced = record(sessions, job_id, Outcome(result=StepResult(), transient=True), settings=quick)

    assert advanced.due_in is not None
    assert 0.005 <= advanced.due_in <= 0.01


def test_a_step_that_worked_clears_the_transient_failure_count(sessions):
    job_id = held(sessions, state="reprotecting", transient_failures=4)

    record(sessions, job_id, Outcome(result=StepResult(), delay=30.0))

    assert read_job(sessions, job_id).transient_failures == 0


# --- the ETA ----------------------------------------------------------------------------------------------------


def test_the_eta_counts_the_plans_estimate_from_the_submission(sessions):
    job_id = held(
        sessions,
        state="reprotecting",
        plan=plan(3600.0),
        created_at=NOW - timedelta(hours=2),
        submitted_at=NOW - timedelta(minutes=10),
        resync_percent=50,  # left over from an earlier attempt: not a resync of this one
    )

    record(sessions, job_id, Outcome(result=StepResult()))

    job = read_job(sessions, job_id)
    assert job.estimated_seconds == 3600.0
    assert job.eta_at == NOW + timedelta(minutes=50)


def test_before_submission_the_eta_counts_from_the_jobs_creation(sessions):
    job_id = held(sessions, state="validating", plan=plan(3600.0), created_at=NOW - timedelta(minutes=15))

    record(sessions, job_id, Outcome(result=StepResult()))

    assert read_job(sessions, job_id).eta_at == NOW + timedelta(minutes=45)


def test_an_estimate_that_is_not_a_number_gives_no_eta(sessions):
    job_id = held(sessions, state="validating", plan={"estimated_seconds": "soon"})

    record(sessions, job_id, Outcome(result=StepResult()))

    job = read_job(sessions, job_id)
    assert (job.estimated_seconds, job.eta_at) == (None, None)


def test_during_the_resync_the_eta_extrapolates_the_observed_rate(sessions):
    job_id = held(sessions, state="syncing", plan=plan(60.0), created_at=NOW - timedelta(hours=3))
    with transaction(sessions) as session:
        session.add(
            JobTransition(
                job_id=job_id,
                attempt=1,
                from_state="reprotecting",
                to_state="syncing",
                at=NOW - timedelta(seconds=1000),
                reason="ASR reprotect job succeeded; watching the resynchronisation",
                actor="worker",
            )
        )

    record(sessions, job_id, Outcome(result=StepResult(learned=Learned(resync_percent=25))))

    assert read_job(sessions, job_id).eta_at == NOW + timedelta(seconds=3000)  # 1000 s for 25 %: 3000 s to go


def test_a_resync_whose_start_is_not_in_the_history_extrapolates_from_now(sessions):
    job_id = held(sessions, state="syncing", plan=plan(60.0), created_at=NOW - timedelta(hours=3))

    record(sessions, job_id, Outcome(result=StepResult(learned=Learned(resync_percent=40))))

    assert read_job(sessions, job_id).eta_at == NOW


def test_a_resync_without_progress_yet_keeps_the_estimate(sessions):
    job_id = held(
        sessions,
        state="syncing",
        plan=plan(7200.0),
        created_at=NOW - timedelta(hours=3),
        submitted_at=NOW - timedelta(hours=1),
    )

    record(sessions, job_id, Outcome(result=StepResult(learned=Learned(resync_percent=0))))

    assert read_job(sessions, job_id).eta_at == NOW + timedelta(hours=1)


def test_a_finished_job_has_no_eta(sessions):
    job_id = held(sessions, state="syncing", plan=plan(3600.0), eta_at=NOW + timedelta(hours=1))
    done = StepResult(to_state=JobState.PROTECTED, reason="replication is protected (Normal)")

    record(sessions, job_id, Outcome(result=done, delay=0.0))

    assert read_job(sessions, job_id).eta_at is None
