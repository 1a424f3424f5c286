"""Running a claimed step: Azure's errors become waits, retries or failures with the code and message operators see."""

from __future__ import annotations

import logging
import random
from typing import Any

import pytest

from app.cloud.types import AsrJob
from app.errors import CloudError, CloudPermanent, CloudThrottled, CloudTransient
from app.job import runner
from app.job.prerequisites import resolve_plan
from app.job.runner import Claimed, LeaseLost, Outcome
from app.job.schemas import VmTarget
from app.job.states import JobState
from app.job.steps import JobView, SendGuard, StepResult, deadline_failure
from app.settings import JobSettings
from tests.fakes import FakeCloud, ready_cloud, sample_item
from tests.unit.job_rows import NOW

SETTINGS = JobSettings(
    poll_interval_seconds=30,
    min_poll_interval_seconds=5,
    transient_backoff_base_seconds=100,
    transient_backoff_max_seconds=1000,
)
NO_SENDS = SendGuard(settle_seconds=180, record_sending=lambda: None, record_not_sent=lambda: None)
VAULT = sample_item()["id"].split("/replicationFabrics/")[0]


@pytest.fixture(autouse=True)
def _seeded():
    random.seed(7)


def claimed(state: JobState, *, overdue: StepResult | None = None, **overrides: Any) -> Claimed:
    fields: dict[str, Any] = {
        "id": "job-1",
        "state": state,
        "item_id": sample_item()["id"],
        "vault_id": VAULT,
        "vm_name": "reprotectvm",
        "customization": {},
        "stored_plan": None,
        "asr_job_name": "asr-1",
        "new_item_id": None,
    }
    return Claimed(view=JobView(**{**fields, **overrides}), overdue=overdue)


def asr_job(state: str) -> AsrJob:
    return AsrJob(
        id=f"{VAULT}/replicationJobs/asr-1",
        name="asr-1",
        state=state,
        state_description="",
        allowed_actions=(),
        tasks=(),
        errors=(),
        new_item_id=None,
        start_time=None,
        end_time=None,
    )


def failing(error: Exception) -> FakeCloud:
    return FakeCloud(failures={"get_job": error})


def run(cloud: FakeCloud, job: Claimed, guard: SendGuard = NO_SENDS) -> Outcome:
    return runner.run(cloud, job, guard, SETTINGS)


# --- steps and how soon to look again ---------------------------------------------------------------------------


def test_an_overdue_job_fails_at_once_without_asking_azure():
    overdue = deadline_failure(NOW)

    assert run(failing(AssertionError("no call")), claimed(JobState.REPROTECTING, overdue=overdue)) == Outcome(
        result=overdue, delay=0.0
    )


def test_a_step_that_moves_on_at_once_is_due_again_at_once():
    outcome = run(FakeCloud(), claimed(JobState.ACCEPTED))

    assert outcome == Outcome(
        result=StepResult(to_state=JobState.VALIDATING, reason="picked up by a worker", poll=False), delay=0.0
    )


def test_a_step_still_watching_is_due_after_the_poll_interval():
    outcome = run(FakeCloud(jobs=[asr_job("InProgress")]), claimed(JobState.REPROTECTING))

    assert (outcome.result.to_state, outcome.delay, outcome.transient) == (None, 30.0, False)


def test_a_step_that_ends_the_job_needs_no_next_look():
    outcome = run(FakeCloud(jobs=[asr_job("Cancelled")]), claimed(JobState.REPROTECTING))

    assert (outcome.result.to_state, outcome.delay) == (JobState.CANCELLED, 0.0)


def test_a_submission_is_watched_after_the_poll_interval():
    item = sample_item()
    cloud = ready_cloud(item)
    plan = resolve_plan(cloud, VmTarget(item_id=item["id"])).to_json()

    outcome = run(cloud, claimed(JobState.SUBMITTING, stored_plan=plan, asr_job_name=None))

    assert (outcome.result.to_state, outcome.delay) == (JobState.REPROTECTING, 30.0)


@pytest.mark.parametrize(
    ("sent_ago", "delay"),
    [
        pytest.param(168.0, 12.0, id="when-it-may-have-landed"),
        pytest.param(179.0, 5.0, id="never-sooner-than-the-minimum"),
        pytest.param(10.0, 30.0, id="never-later-than-the-poll-interval"),
    ],
)
def test_a_send_that_may_still_land_is_looked_for_when_it_would_have(sent_ago, delay):
    job = claimed(JobState.SUBMITTING, stored_plan={"vm": "x"}, switch_sent_seconds_ago=sent_ago)

    outcome = run(FakeCloud(items=[sample_item()]), job)

    assert outcome.delay == delay


def test_a_worker_that_lost_the_job_before_sending_sends_nothing_and_records_nothing():
    item = sample_item()
    cloud = ready_cloud(item)
    plan = resolve_plan(cloud, VmTarget(item_id=item["id"])).to_json()

    def taken_over() -> None:
        raise LeaseLost("job job-1 is no longer w1's to submit")

    guard = SendGuard(settle_seconds=180, record_sending=taken_over, record_not_sent=lambda: None)
    outcome = run(cloud, claimed(JobState.SUBMITTING, stored_plan=plan), guard)

    assert outcome == Outcome(result=StepResult(), lease_lost=True)
    assert cloud.submitted == []


# --- Azure's errors ---------------------------------------------------------------------------------------------


def test_throttling_waits_for_azures_retry_after_spread_upwards_without_counting_a_failure():
    outcome = run(failing(CloudThrottled("Too many requests", retry_after=4)), claimed(JobState.REPROTECTING))

    assert outcome.result == StepResult(reason="throttled by Azure: Too many requests")
    assert outcome.delay is not None
    assert 4.0 <= outcome.delay <= 6.0  # not the 100 s backoff of a failure
    assert (outcome.transient, outcome.lease_lost) == (False, False)


def test_a_transient_error_is_retried_with_backoff_no_sooner_than_azure_asks():
    outcome = run(failing(CloudTransient("Gateway timeout", retry_after=12)), claimed(JobState.REPROTECTING))

    assert outcome == Outcome(
        result=StepResult(reason="transient Azure error: Gateway timeout"), transient=True, retry_after=12
    )


def test_a_permanent_refusal_fails_the_job_with_azures_code_message_and_details():
    refusal = CloudPermanent("Not allowed here", code="AuthorizationFailed", status=403, details={"scope": "vault"})

    outcome = run(failing(refusal), claimed(JobState.REPROTECTING))

    assert outcome == Outcome(
        result=StepResult(
            to_state=JobState.FAILED,
            reason="Not allowed here",
            error_code="AuthorizationFailed",
            error_message="Not allowed here",
            error_details={"scope": "vault"},
        ),
        delay=0.0,
    )


def test_a_permanent_refusal_without_details_records_none():
    outcome = run(failing(CloudPermanent("Gone", code="NotFound", status=404)), claimed(JobState.REPROTECTING))

    assert outcome.result.error_details is None


def test_an_azure_error_of_no_known_kind_is_retried():
    outcome = run(failing(CloudError("unexpected answer")), claimed(JobState.REPROTECTING))

    assert outcome == Outcome(result=StepResult(reason="unexpected answer"), transient=True)


def test_a_bug_fails_the_job_as_an_internal_error_and_is_logged(caplog):
    with caplog.at_level(logging.ERROR, logger="app.job.runner"):
        outcome = run(FakeCloud(items=[sample_item()]), claimed(JobState.SUBMITTING, stored_plan=None))

    message = (
        "Unexpected error in the service: ValueError('job job-1 has no plan to submit'). "
        "Retry the job once the cause is fixed."
    )
    assert outcome == Outcome(
        result=StepResult(to_state=JobState.FAILED, reason=message, error_code="internal_error", error_message=message),
        delay=0.0,
    )
    (logged,) = [r for r in caplog.records if r.name == "app.job.runner"]
    assert logged.getMessage() == "job job-1: unexpected error in step"
    assert logged.exc_info is not None


# --- the retry policy -------------------------------------------------------------------------------------------


def test_transient_failures_back_off_between_half_and_all_of_the_exponential_wait():
    policy = runner.retry_policy(SETTINGS.model_copy(update={"transient_backoff_base_seconds": 10}))

    waits = [policy.delay(2) for _ in range(200)]

    assert all(10.0 <= w <= 20.0 for w in waits)
    assert max(waits) - min(waits) > 6.0
    assert all(policy.delay(20) <= 1000.0 for _ in range(50))  # capped


def test_throttled_jobs_come_back_after_retry_after_spread_by_up_to_half_again():
    policy = runner.retry_policy(SETTINGS)

    waits = [policy.delay(0, retry_after=10) for _ in range(200)]

    assert all(10.0 <= w <= 15.0 for w in waits)
    assert max(waits) > 13.0
