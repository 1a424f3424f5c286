"""The job state machine's rules."""

import itertools

import pytest

from app.errors import Conflict
from app.job.states import (
    ACTIVE_STATES,
    TERMINAL_STATES,
    JobState,
    can_transition,
    check_transition,
    retry_entry_state,
)

HAPPY_PATH = [
    JobState.ACCEPTED,
    JobState.VALIDATING,
    JobState.SUBMITTING,
    JobState.REPROTECTING,
    JobState.SYNCING,
    JobState.PROTECTED,
]


def test_the_happy_path_is_a_chain_of_legal_steps():
    for current, target in itertools.pairwise(HAPPY_PATH):
        assert can_transition(current, target)


@pytest.mark.parametrize("state", sorted(ACTIVE_STATES))
def test_every_active_state_can_fail_or_be_cancelled(state):
    assert can_transition(state, JobState.FAILED)
    assert can_transition(state, JobState.CANCELLED)


@pytest.mark.parametrize("state", sorted(ACTIVE_STATES))
def test_no_state_skips_ahead(state):
    later = HAPPY_PATH[HAPPY_PATH.index(state) + 2 :]
    assert not any(can_transition(state, target) for target in later)


@pytest.mark.parametrize("state", [JobState.PROTECTED, JobState.CANCELLED])
def test_protected_and_cancelled_are_final(state):
    assert not any(can_transition(state, target) for target in JobState)


def test_failed_only_reenters_through_a_retry_entry():
    allowed = {t for t in JobState if can_transition(JobState.FAILED, t)}
    assert allowed == {JobState.VALIDATING, JobState.SUBMITTING, JobState.REPROTECTING, JobState.SYNCING}


def test_illegal_transition_raises_conflict_with_a_stable_code():
    with pytest.raises(Conflict) as raised:
        check_transition(JobState.PROTECTED, JobState.SYNCING)
    assert raised.value.code == "invalid_transition"


def test_retry_resumes_watching_when_azure_already_did_the_work():
    assert retry_entry_state(JobState.SYNCING) == JobState.SYNCING
    assert retry_entry_state(JobState.REPROTECTING) == JobState.VALIDATING
    assert retry_entry_state(JobState.VALIDATING) == JobState.VALIDATING
    # Only our watching stopped (deadline): keep watching the same ASR job instead of resubmitting.
    assert retry_entry_state(JobState.REPROTECTING, azure_failed=False) == JobState.REPROTECTING


def test_retry_after_azure_failed_its_job_submits_again_from_where_azure_left_the_item():
    # The failed ASR job is known: Restart it (or send a new switch protection) without re-validating a
    # committed failover the item may no longer show.
    assert retry_entry_state(JobState.REPROTECTING, asr_job_known=True) == JobState.SUBMITTING
    assert retry_entry_state(JobState.SUBMITTING, asr_job_known=True) == JobState.VALIDATING


def test_terminal_and_active_partition_the_states():
    assert set(JobState) == TERMINAL_STATES | ACTIVE_STATES
    assert not TERMINAL_STATES & ACTIVE_STATES
