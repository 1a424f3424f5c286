"""The inventory's reprotect status of one VM: Azure's item (the recorded one, varied) and our latest job,
judged by the same state rules as ``POST /reprotect``; and the CLI's selector syntax."""

from __future__ import annotations

from typing import Any

import pytest

from app.cloud import parse
from app.fleet.status import ReprotectStatus, decide
from app.job.states import JobState
from cli.client import parse_selector
from tests.fakes import sample_item


def verdict(job: JobState | None = None, error: str | None = None, **props: Any):
    raw = sample_item()
    raw["properties"].update(props)
    return decide(parse.item(raw), job_state=job, job_error_code=error)


def test_a_committed_failover_with_switch_protection_allowed_needs_reprotect():
    assert verdict().status == ReprotectStatus.NEEDS_REPROTECT


@pytest.mark.parametrize(
    ("props", "code"),
    [
        (
            {"protectionState": "UnplannedFailoverCommitPendingStatesBegin", "allowedOperations": ["Commit"]},
            "failover_not_committed",
        ),
        ({"allowedOperations": ["DisableProtection"]}, "reprotect_not_allowed"),
        (
            {"currentScenario": {"scenarioName": "TestFailover", "jobId": "/x/replicationJobs/j"}},
            "operation_in_progress",
        ),
    ],
)
def test_states_reprotect_would_refuse_are_not_eligible_with_the_refusal_code(props, code):
    found = verdict(**props)
    assert (found.status, found.reason_code) == (ReprotectStatus.NOT_ELIGIBLE, code)
    assert found.reason


def test_protected_wins_over_another_operation_running():
    running = {"currentScenario": {"scenarioName": "TestFailover", "jobId": "/x/replicationJobs/j"}}
    assert verdict(protectionState="Protected", activeLocation="Primary", **running).status == ReprotectStatus.PROTECTED


def test_our_active_job_or_azures_reprotect_is_in_progress():
    assert verdict(JobState.SYNCING).status == ReprotectStatus.IN_PROGRESS
    running = {"currentScenario": {"scenarioName": "SwitchProtection", "jobId": "/x/replicationJobs/j"}}
    assert verdict(**running).status == ReprotectStatus.IN_PROGRESS
    assert verdict(protectionState="UnprotectedStatesBegin").status == ReprotectStatus.IN_PROGRESS


def test_a_failed_job_shows_failed_until_azure_says_protected():
    failed = verdict(JobState.FAILED, "151195")
    assert (failed.status, failed.reason_code) == (ReprotectStatus.FAILED, "151195")
    assert verdict(JobState.FAILED, "151195", protectionState="Protected").status == ReprotectStatus.PROTECTED
    assert verdict(JobState.CANCELLED).status == ReprotectStatus.NEEDS_REPROTECT


def test_a_job_protected_after_azures_copy_was_read_wins_over_that_copy():
    raw = sample_item()  # Azure's copy, read before our reprotect ended: still the committed failover
    item = parse.item(raw)
    stale = decide(item, job_state=JobState.PROTECTED, job_error_code=None, protected_since_read=True)
    assert stale.status == ReprotectStatus.PROTECTED
    fresh = decide(item, job_state=JobState.PROTECTED, job_error_code=None, protected_since_read=False)
    assert fresh.status == ReprotectStatus.NEEDS_REPROTECT  # read after our job: failed over again since


def test_the_cli_selector_syntax():
    assert parse_selector(["vault_id=/a,/b", "vault-id=/c", "source_region=eastasia", "subscription_id=s1"]) == {
        "vault_ids": ["/a", "/b", "/c"],
        "source_region": "eastasia",
        "subscription_ids": ["s1"],
    }
    for bad, said in (
        (["colour=red"], "unknown selector key"),
        (["vault_id"], "key=value"),
        (["name_prefix="], "key=value"),
    ):
        with pytest.raises(ValueError, match=said):
            parse_selector(bad)
