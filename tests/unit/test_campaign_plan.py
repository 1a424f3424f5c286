"""A campaign's steps from its waves and options, and its gates' verdicts (pure)."""

from __future__ import annotations

from app.campaign.gates import failure_reason
from app.campaign.plan import steps_for, waves_by_size
from app.campaign.states import GateKind
from app.job.kinds import JobKind

CHECK = {"url": "https://app.example/health", "expected_status": 200}


def test_waves_fail_over_in_order_each_behind_its_own_gate_between_one_drill_and_one_commit():
    steps = steps_for(
        [3, 1, 3, 2], {"drill": True, "wave_gates": {"2": {"approval": "manual"}, "3": {"health_checks": [CHECK]}}}
    )
    assert [(s.phase, s.wave, s.gate) for s in steps] == [
        (JobKind.REPROTECT, None, GateKind.NONE),
        (JobKind.DRILL, None, GateKind.MANUAL),  # the validation gate: an operator's, unless told otherwise
        (JobKind.DRILL_CLEANUP, None, GateKind.NONE),
        (JobKind.FAILOVER, 1, GateKind.AUTO),
        (JobKind.FAILOVER, 2, GateKind.MANUAL),
        (JobKind.FAILOVER, 3, GateKind.HTTP),
        (JobKind.COMMIT, None, GateKind.NONE),
        (JobKind.REPROTECT_BACK, None, GateKind.NONE),
    ]
    assert steps[5].health_checks == [CHECK]


def test_without_a_drill_there_is_no_test_failover_nor_its_cleanup():
    phases = [s.phase for s in steps_for([1], {"drill": False})]
    assert JobKind.DRILL not in phases
    assert JobKind.DRILL_CLEANUP not in phases


def test_a_manual_gate_with_health_checks_stays_manual_and_keeps_its_checks():
    drill = steps_for([1], {"drill_approval": "manual", "drill_health_checks": [CHECK]})[1]
    assert (drill.gate, drill.health_checks) == (GateKind.MANUAL, [CHECK])
    auto = steps_for([1], {"drill_approval": "auto", "drill_health_checks": [CHECK]})[1]
    assert auto.gate is GateKind.HTTP


def test_a_selector_is_cut_into_waves_of_the_given_size():
    assert waves_by_size(5, 2) == [1, 1, 2, 2, 3]
    assert waves_by_size(3, None) == [1, 1, 1]


def test_a_failing_check_is_named_with_what_it_answered_or_why_it_did_not():
    results = [
        {"url": "https://a", "expected_status": 200, "status": 200, "error": None, "passed": True},
        {"url": "https://b", "expected_status": 200, "status": 503, "error": None, "passed": False},
        {"url": "https://c", "expected_status": 204, "status": None, "error": "timeout: no answer", "passed": False},
    ]
    assert failure_reason(results) == (
        "health check failed: https://b answered 503 (expected 200); https://c did not answer (timeout: no answer)"
    )
    assert failure_reason(results[:1]) is None
