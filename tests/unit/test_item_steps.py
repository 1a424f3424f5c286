"""The item-operation kinds' steps over a fake Azure: allowed operations, adopt-never-resend, and the done predicates."""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from typing import Any

from app.cloud.parse import item as parse_item
from app.cloud.types import TestFailoverSpec, UnplannedFailoverSpec
from app.job.item_steps import run_item_step
from app.job.prerequisites import restores_original_direction
from app.job.states import JobState
from app.job.steps import JobView, SendGuard
from tests.fakes import FakeCloud, sample_item

PROTECTED_OPS = ["DisableProtection", "PlannedFailover", "TestFailover", "UnplannedFailover"]
NETWORK = "/subscriptions/s/resourceGroups/net/providers/Microsoft.Network/virtualNetworks/vnet-test"


@dataclass
class DrillCloud(FakeCloud):
    """The fake vault, answering test failovers and cleanups with a new ASR job name each."""

    sent: list[Any] = field(default_factory=list)

    def test_failover(self, spec: TestFailoverSpec) -> str:
        self.sent.append(spec)
        return f"tfo-{len(self.sent)}"

    def test_failover_cleanup(self, item, comments: str) -> str:
        self.sent.append(comments)
        return f"cleanup-{len(self.sent)}"

    def unplanned_failover(self, spec: UnplannedFailoverSpec) -> str:
        self.sent.append(spec)
        return f"failover-{len(self.sent)}"

    def failover_commit(self, item) -> str:
        self.sent.append(item)
        return f"commit-{len(self.sent)}"


def _item(
    *,
    allowed: list[str],
    tfo_state: str = "None",
    scenario: str = "None",
    job: str | None = None,
    state: str | None = None,
    active: str | None = None,
) -> dict:
    raw = copy.deepcopy(sample_item())
    props = raw["properties"]
    props["allowedOperations"] = allowed
    props["protectionState"] = state or props["protectionState"]
    props["activeLocation"] = active or props["activeLocation"]
    props["testFailoverState"] = tfo_state
    vault = raw["id"].split("/replicationFabrics/")[0]
    props["currentScenario"] = {"scenarioName": scenario, "jobId": f"{vault}/replicationJobs/{job or 'None'}"}
    return raw


def _view(raw: dict, state: JobState, *, kind: str = "drill", sent_ago: float | None = None) -> JobView:
    return JobView(
        id="j1",
        state=state,
        item_id=raw["id"],
        vault_id=raw["id"].split("/replicationFabrics/")[0],
        vm_name="vm",
        customization={"test_network_id": NETWORK, "recovery_point": "latest", "comments": "notes"},
        stored_plan=None,
        asr_job_name=None,
        new_item_id=None,
        switch_sent_seconds_ago=sent_ago,
        kind=kind,
    )


def _guard(marks: list[bool]) -> SendGuard:
    return SendGuard(
        settle_seconds=60, record_sending=lambda: marks.append(True), record_not_sent=lambda: marks.append(False)
    )


def test_a_committed_item_is_refused_a_drill_in_azures_words():
    raw = _item(allowed=["CompleteMigration", "DisableProtection", "SwitchProtection"])
    result = run_item_step(DrillCloud(items=[raw]), _view(raw, JobState.VALIDATING), _guard([]))
    assert (result.to_state, result.error_code) == (JobState.FAILED, "test_failover_not_allowed")
    assert "[CompleteMigration, DisableProtection, SwitchProtection]" in str(result.error_message)


def test_a_drill_is_sent_once_noted_first_with_the_network_and_the_items_direction():
    raw = _item(allowed=PROTECTED_OPS)
    cloud, marks = DrillCloud(items=[raw]), []
    result = run_item_step(cloud, _view(raw, JobState.SUBMITTING), _guard(marks))
    assert (result.to_state, result.learned.asr_job_name) == (JobState.REPROTECTING, "tfo-1")
    assert marks == [True]
    spec = cloud.sent[0]
    assert (spec.network_id, spec.recovery_point_id) == (NETWORK, None)


def test_a_test_failover_already_running_on_the_item_is_adopted_not_sent_again():
    raw = _item(allowed=[], tfo_state="InProgress", scenario="TestFailover", job="tfo-lost")
    cloud = DrillCloud(items=[raw])
    result = run_item_step(cloud, _view(raw, JobState.SUBMITTING, sent_ago=5.0), _guard([]))
    assert (result.to_state, result.learned.asr_job_name) == (JobState.REPROTECTING, "tfo-lost")
    assert cloud.sent == []


def test_an_unanswered_send_is_waited_for_while_it_may_still_land():
    raw = _item(allowed=PROTECTED_OPS)
    cloud = DrillCloud(items=[raw])
    result = run_item_step(cloud, _view(raw, JobState.SUBMITTING, sent_ago=5.0), _guard([]))
    assert (result.to_state, cloud.sent) == (None, [])
    assert result.look_again_within == 55.0


def test_a_drill_is_done_when_the_test_failover_waits_for_its_cleanup():
    waiting = _item(allowed=["TestFailoverCleanup"], tfo_state="WaitingForCompletion", scenario="TestFailover", job="t")
    running = _item(allowed=[], tfo_state="InProgress", scenario="TestFailover", job="t")
    assert run_item_step(DrillCloud(items=[waiting]), _view(waiting, JobState.SYNCING), _guard([])).to_state == (
        JobState.PROTECTED
    )
    assert run_item_step(DrillCloud(items=[running]), _view(running, JobState.SYNCING), _guard([])).to_state is None


def test_a_cleanup_is_done_once_the_test_failover_state_is_none_again():
    cleaning = _item(allowed=[], tfo_state="MarkedForDeletion", scenario="TestFailoverCleanup", job="c")
    cleaned = _item(allowed=PROTECTED_OPS)
    view = _view(cleaning, JobState.SYNCING, kind="drill_cleanup")
    assert run_item_step(DrillCloud(items=[cleaning]), view, _guard([])).to_state is None
    view = _view(cleaned, JobState.SYNCING, kind="drill_cleanup")
    assert run_item_step(DrillCloud(items=[cleaned]), view, _guard([])).to_state == JobState.PROTECTED


def test_a_failover_is_sent_once_away_from_where_the_item_is_active_with_the_source_shut_down_first():
    protected = _item(allowed=PROTECTED_OPS, state="Protected", active="Primary")
    cloud, marks = DrillCloud(items=[protected]), []
    result = run_item_step(cloud, _view(protected, JobState.SUBMITTING, kind="failover"), _guard(marks))
    assert (result.to_state, result.learned.asr_job_name, marks) == (JobState.REPROTECTING, "failover-1", [True])
    spec = cloud.sent[0]
    assert (spec.failover_direction, spec.source_site_operations, spec.recovery_point_id) == (
        "PrimaryToRecovery",
        "Required",
        None,
    )


def test_a_failover_is_refused_where_allowed_operations_lack_it():
    committed = _item(allowed=["CompleteMigration", "DisableProtection", "SwitchProtection"])
    result = run_item_step(
        DrillCloud(items=[committed]), _view(committed, JobState.VALIDATING, kind="failover"), _guard([])
    )
    assert (result.to_state, result.error_code) == (JobState.FAILED, "failover_not_allowed")


def test_a_failover_is_done_once_pending_commit_and_a_commit_once_committed():
    running = _item(allowed=[], state="UnplannedFailoverInProgress", scenario="UnplannedFailover", job="f")
    pending = _item(
        allowed=["ChangePit", "Commit", "DisableProtection"], state="UnplannedFailoverCommitPendingStatesBegin"
    )
    committing = _item(
        allowed=[], state="UnplannedFailoverCommitPendingStatesBegin", scenario="CommitFailover", job="c"
    )
    committed = _item(allowed=["SwitchProtection"], state="UnplannedFailoverCommitted")

    def settles(raw: dict, kind: str) -> bool:
        return run_item_step(DrillCloud(items=[raw]), _view(raw, JobState.SYNCING, kind=kind), _guard([])).to_state == (
            JobState.PROTECTED
        )

    assert [settles(raw, "failover") for raw in (running, pending)] == [False, True]
    assert [settles(raw, "commit") for raw in (committing, committed)] == [False, True]


def test_a_commit_running_on_the_item_is_adopted_not_sent_again():
    committing = _item(
        allowed=[], state="UnplannedFailoverCommitPendingStatesBegin", scenario="CommitFailover", job="c9"
    )
    cloud = DrillCloud(items=[committing])
    result = run_item_step(cloud, _view(committing, JobState.SUBMITTING, kind="commit", sent_ago=3.0), _guard([]))
    assert (result.to_state, result.learned.asr_job_name, cloud.sent) == (JobState.REPROTECTING, "c9", [])


def test_only_a_reprotect_from_the_region_replication_was_first_enabled_from_restores_the_original_direction():
    recorded = sample_item()  # Azure's item after the first failover (UK South -> UK West) and its commit
    assert restores_original_direction(parse_item(recorded)) is False
    home = copy.deepcopy(recorded)  # after reprotect, failover home and commit: it runs in UK South again
    details = home["properties"]["providerSpecificDetails"]
    details["primaryFabricLocation"], details["recoveryFabricLocation"] = "ukwest", "uksouth"
    assert restores_original_direction(parse_item(home)) is True
    del details["initialPrimaryFabricLocation"]
    assert restores_original_direction(parse_item(home)) is False  # Azure did not say: an ordinary reprotect
