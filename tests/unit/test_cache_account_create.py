"""The submitting step makes the planned cache account real before it sends switch protection: created
through the Storage API with the portal's settings, once however many jobs need it, waited for until
usable, the next deterministic name when one is taken elsewhere, and never renamed when the caller named it."""

from __future__ import annotations

import pytest

from app.cloud.types import StorageAccountSpec
from app.errors import CloudPermanent
from app.job.cache_accounts import LocalClaims, candidate_name
from app.job.states import JobState
from app.job.steps import run_step
from tests.fakes import FakeCloud, sample_item
from tests.unit.test_step_submit import SUB, Sends, stored_plan, submitting

SUB_ID = SUB.split("/")[2]
GROUP = f"{SUB}/resourceGroups/vijami-alertrg"
STORAGE = "providers/Microsoft.Storage/storageAccounts"
FIRST = f"{GROUP}/{STORAGE}/{candidate_name(SUB_ID, 'vijami-alertrg', 'ukwest')}"
SECOND = f"{GROUP}/{STORAGE}/{candidate_name(SUB_ID, 'vijami-alertrg', 'ukwest', 1)}"


def planned(account_id: str = FIRST, status: str = "new") -> dict:
    plan = stored_plan()
    plan["cache_storage_account"] = {"id": account_id, "name": account_id.rsplit("/", 1)[-1], "status": status}
    return plan


@pytest.fixture
def cloud():
    return FakeCloud(items=[sample_item()])


def step(cloud, claims, job_id="job-7", account_id=FIRST, **custom):
    job = submitting(sample_item(), id=job_id, stored_plan=planned(account_id), customization=custom)
    return run_step(cloud, job, Sends(cloud).guard, claims)


def test_a_new_account_is_created_with_the_portals_settings_and_then_sent(cloud):
    result = step(cloud, LocalClaims())
    assert cloud.created_accounts == [StorageAccountSpec(id=FIRST, location="ukwest")]
    spec = cloud.created_accounts[0]
    assert (spec.kind, spec.sku, spec.minimum_tls_version, spec.allow_blob_public_access) == (
        "StorageV2",
        "Standard_LRS",
        "TLS1_2",
        False,
    )
    assert result.to_state == JobState.REPROTECTING
    assert cloud.submitted[0].cache_storage_account_id == FIRST
    assert {d.staging_account_id for d in cloud.submitted[0].disks} == {FIRST}
    assert result.learned.plan is not None
    assert result.learned.plan.cache_storage_account.status == "existing"


def test_switch_protection_waits_until_the_account_is_usable(cloud):
    cloud.new_account_state = "Creating"
    claims = LocalClaims()
    first = step(cloud, claims)
    assert (first.to_state, first.look_again_within) == (None, 5.0)
    assert "being created" in first.reason or "creating" in first.reason
    assert cloud.submitted == []
    again = step(cloud, claims)
    assert again.to_state is None
    assert len(cloud.created_accounts) == 1  # not created twice while it provisions
    cloud.resources[FIRST.lower()]["properties"]["provisioningState"] = "Succeeded"
    done = step(cloud, claims)
    assert done.to_state == JobState.REPROTECTING
    assert cloud.submitted[0].cache_storage_account_id == FIRST


def test_many_jobs_needing_one_account_create_it_once(cloud):
    cloud.new_account_state = "Creating"
    claims = LocalClaims()
    results = [step(cloud, claims, job_id=f"job-{n}") for n in range(5)]
    assert len(cloud.created_accounts) == 1
    assert all(r.to_state is None for r in results)
    assert "another job" in results[1].reason
    cloud.resources[FIRST.lower()]["properties"]["provisioningState"] = "Succeeded"
    early = step(cloud, claims, job_id="job-3")
    assert early.to_state is None  # until the creator has seen it usable, the others keep waiting
    done = [step(cloud, claims, job_id=f"job-{n}") for n in (0, 3, 1, 2, 4)]
    assert [r.to_state for r in done] == [JobState.REPROTECTING] * 5
    assert {s.cache_storage_account_id for s in cloud.submitted} == {FIRST}
    assert len(cloud.created_accounts) == 1


def test_a_name_taken_elsewhere_in_azure_moves_to_the_next_name(cloud):
    cloud.taken_storage_names.add(FIRST.rsplit("/", 1)[-1])
    result = step(cloud, LocalClaims())
    assert [s.id for s in cloud.created_accounts] == [FIRST, SECOND]  # Storage refused the first name
    assert result.to_state == JobState.REPROTECTING
    assert cloud.submitted[0].cache_storage_account_id == SECOND
    assert result.learned.plan.cache_storage_account.name == SECOND.rsplit("/", 1)[-1]


def test_a_create_refused_as_already_taken_moves_on_and_fails_when_every_name_is(cloud):
    cloud.failures["create_storage_account"] = CloudPermanent(
        "The storage account named x is already taken.", code="StorageAccountAlreadyTaken", status=409
    )
    result = step(cloud, LocalClaims())
    assert result.to_state == JobState.FAILED
    assert result.error_code == "cache_storage_account_names_taken"
    assert "cache_storage_account_id" in result.error_message
    assert cloud.submitted == []


def test_someone_elses_unsuitable_account_under_our_name_is_not_used(cloud):
    cloud.add_storage_account(FIRST, "uksouth")  # our name, wrong region: not ours to use
    result = step(cloud, LocalClaims())
    assert [s.id for s in cloud.created_accounts] == [SECOND]
    assert cloud.submitted[0].cache_storage_account_id == SECOND
    assert result.to_state == JobState.REPROTECTING


def test_a_caller_named_missing_account_is_created_with_exactly_that_name(cloud):
    named = f"{SUB}/resourceGroups/rg-asr/{STORAGE}/mynamedcache"
    result = step(cloud, LocalClaims(), account_id=named, cache_storage_account_id=named)
    assert [s.id for s in cloud.created_accounts] == [named]
    assert cloud.submitted[0].cache_storage_account_id == named
    assert result.to_state == JobState.REPROTECTING


def test_a_caller_named_account_whose_name_is_taken_is_never_renamed(cloud):
    named = f"{SUB}/resourceGroups/rg-asr/{STORAGE}/mynamedcache"
    cloud.taken_storage_names.add("mynamedcache")
    result = step(cloud, LocalClaims(), account_id=named, cache_storage_account_id=named)
    assert result.to_state == JobState.FAILED
    assert result.error_code == "cache_storage_account_name_taken"
    assert [s.id for s in cloud.created_accounts] == [named]  # the one create Storage refused; no other name
    assert cloud.submitted == []


def test_a_failed_creator_lets_the_next_job_try_again(cloud):
    claims = LocalClaims()
    cloud.failures["create_storage_account"] = CloudPermanent("denied", code="AuthorizationFailed", status=403)
    with pytest.raises(CloudPermanent):
        step(cloud, claims, job_id="job-a")
    del cloud.failures["create_storage_account"]
    assert step(cloud, claims, job_id="job-b").to_state == JobState.REPROTECTING


def test_an_existing_planned_account_is_sent_without_any_storage_call(cloud):
    job = submitting(sample_item(), stored_plan=planned(FIRST, status="existing"))
    result = run_step(cloud, job, Sends(cloud).guard, LocalClaims())
    assert result.to_state == JobState.REPROTECTING
    assert cloud.created_accounts == []


def test_an_account_deleted_after_it_was_made_ready_is_created_again_not_sent(cloud):
    """A ready claim is trusted only while Azure still has the account: someone may delete it later, and
    Site Recovery refuses a cache account that does not exist."""
    claims = LocalClaims()
    assert step(cloud, claims, job_id="job-1").to_state == JobState.REPROTECTING
    del cloud.resources[FIRST.lower()]  # deleted by someone between two reprotects

    noticed = step(cloud, claims, job_id="job-2")
    assert (noticed.to_state, "deleted" in noticed.reason) == (None, True)
    assert len(cloud.submitted) == 1  # nothing sent naming the missing account
    again = step(cloud, claims, job_id="job-2")
    assert again.to_state == JobState.REPROTECTING
    assert len(cloud.created_accounts) == 2
    assert cloud.submitted[-1].cache_storage_account_id == FIRST


def test_a_create_storage_accepted_but_never_finished_fails_the_job_after_a_while_and_frees_the_claim(cloud):
    """Storage answered 202 but the account never appears (its create failed on Storage's side): the job
    does not wait until its deadline; it fails with what to check, and a retry creates it anew."""
    now = [0.0]
    claims = LocalClaims(clock=lambda: now[0])
    cloud.new_account_state = "Creating"
    first = step(cloud, claims)
    assert (first.to_state, len(cloud.created_accounts)) == (None, 1)
    del cloud.resources[FIRST.lower()]  # the account Storage was creating never comes

    now[0] = 60.0
    assert step(cloud, claims).to_state is None  # still patient: accounts take seconds to a minute
    now[0] = 700.0
    gave_up = step(cloud, claims)
    assert (gave_up.to_state, gave_up.error_code) == (JobState.FAILED, "cache_storage_account_not_created")
    assert len(cloud.submitted) == 0
    cloud.new_account_state = "Succeeded"
    assert step(cloud, claims).to_state == JobState.REPROTECTING  # the retry creates it anew
    assert len(cloud.created_accounts) == 2


def test_jobs_planning_the_new_account_in_different_groups_of_one_subscription_share_one(cloud):
    """Under a central vault each VM's plan names a new account in its own failed-over group: one account per
    subscription and region is created, and every job sends that one."""
    other_group = f"{SUB}/resourceGroups/another-app-rg-asr"
    elsewhere = f"{other_group}/{STORAGE}/{candidate_name(SUB_ID, 'another-app-rg-asr', 'ukwest')}"
    claims = LocalClaims()
    first = step(cloud, claims, job_id="job-1", account_id=FIRST)
    second = step(cloud, claims, job_id="job-2", account_id=elsewhere)
    assert [r.to_state for r in (first, second)] == [JobState.REPROTECTING] * 2
    assert len(cloud.created_accounts) == 1
    assert {s.cache_storage_account_id for s in cloud.submitted} == {FIRST}
    assert second.learned.plan is not None
    assert second.learned.plan.cache_storage_account.id == FIRST  # the job shows the account it got
