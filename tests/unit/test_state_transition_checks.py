"""Checking a transition: legal moves pass silently, an illegal one is refused naming both states; which states are final."""

from __future__ import annotations

import pytest

from app.errors import Conflict
from app.job.states import JobState, check_transition, is_terminal


@pytest.mark.parametrize(
    ("current", "target"),
    [
        (JobState.ACCEPTED, JobState.VALIDATING),
        (JobState.SUBMITTING, JobState.REPROTECTING),
        (JobState.SYNCING, JobState.PROTECTED),
        (JobState.REPROTECTING, JobState.CANCELLED),
        (JobState.FAILED, JobState.SYNCING),
    ],
)
def test_a_legal_move_passes(current, target):
    assert check_transition(current, target) is None


def test_an_illegal_move_is_a_conflict_naming_both_states():
    with pytest.raises(Conflict) as raised:
        check_transition(JobState.CANCELLED, JobState.VALIDATING)

    assert raised.value.code == "invalid_transition"
    assert raised.value.message == "A job cannot go from cancelled to validating."
    assert str(raised.value) == "A job cannot go from cancelled to validating."


@pytest.mark.parametrize("state", list(JobState))
def test_protected_failed_and_cancelled_are_terminal_and_nothing_else(state):
    assert is_terminal(state) is (state in {JobState.PROTECTED, JobState.FAILED, JobState.CANCELLED})
