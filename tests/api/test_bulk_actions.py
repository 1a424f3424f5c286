"""``POST /jobs:retry`` and ``POST /jobs:cancel`` through the HTTP API on the emulator: jobs chosen by a filter,
a dry run that changes nothing, a cap that refuses rather than cuts, each job's own refusal, the caller's
scopes, and one audit entry per job acted on."""

from __future__ import annotations

import uuid

from sqlalchemy import select
from standardwebhooks.webhooks import Webhook

from app.auth.models import AuditEntry
from app.db import transaction
from tests.api.conftest import make_key
from tests.drive import deliver_due, drive
from tests.receiver import running_receiver

OTHER_GROUP = "/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/elsewhere-rg"


def _fail_with(emulator, item, code: str) -> None:
    failure = {"vm": item["name"], "task": "ProtectReplicaTask", "code": code, "at_fraction": 0.5}
    emulator.post("/_emulator/faults/job-failure", json=failure).raise_for_status()


def _submit(api, items) -> tuple[str, dict[str, str]]:
    answer = api.post("/reprotect", json={"vms": [{"item_id": item["id"]} for item in items]})
    assert answer.status_code == 202, answer.text
    body = answer.json()
    return body["request_id"], {job["vm"]: job["id"] for job in body["jobs"]}


def _states(api, job_ids) -> dict[str, str]:
    return {job_id: api.get(f"/jobs/{job_id}").json()["state"] for job_id in job_ids}


def _job_rows(container, route: str) -> list[AuditEntry]:
    with transaction(container.sessions) as session:
        rows = session.scalars(select(AuditEntry).where(AuditEntry.route == route, AuditEntry.path != route))
        return sorted(rows, key=lambda row: row.path)


def test_bulk_retry_by_error_code_retries_exactly_those_jobs_and_they_reach_protected(api, container, emulator, demo):
    dns, dns_too, quota = demo["committed"][:3]
    for item, code in ((dns, "151195"), (dns_too, "151195"), (quota, "150097")):
        _fail_with(emulator, item, code)
    _, jobs = _submit(api, [dns, dns_too, quota])
    drive(container)
    assert set(_states(api, jobs.values()).values()) == {"failed"}
    wanted = {"filter": {"error_codes": ["151195"]}}

    planned = api.post("/jobs:retry", params={"dry_run": True}, json=wanted)
    assert planned.status_code == 200, planned.text
    assert {j["vm"]: j["outcome"] for j in planned.json()["jobs"]} == {
        dns["name"]: "would_retry",
        dns_too["name"]: "would_retry",
    }
    assert set(_states(api, jobs.values()).values()) == {"failed"}  # the dry run changed nothing

    done = api.post("/jobs:retry", json=wanted).json()
    assert (done["matched"], done["counts"]["retried"], done["filter"]["states"]) == (2, 2, ["failed"])
    assert {(j["vm"], j["error_code"], j["outcome"]) for j in done["jobs"]} == {
        (dns["name"], "151195", "retried"),
        (dns_too["name"], "151195", "retried"),
    }
    drive(container)
    states = _states(api, jobs.values())
    assert [states[jobs[dns["name"]]], states[jobs[dns_too["name"]]], states[jobs[quota["name"]]]] == [
        "protected",
        "protected",
        "failed",
    ]
    audited = _job_rows(container, "/jobs:retry")
    assert sorted(row.path for row in audited) == sorted(f"/jobs/{jobs[item['name']]}/retry" for item in (dns, dns_too))
    assert {(row.status, row.outcome) for row in audited} == {(202, "succeeded")}
    assert sorted(row.vm_ids[0].lower() for row in audited) == sorted(item["id"].lower() for item in (dns, dns_too))


def test_bulk_cancel_over_its_cap_is_refused_with_the_count_and_changes_nothing(api, container, demo):
    request_id, jobs = _submit(api, demo["committed"][:3])
    wanted = {"filter": {"request_ids": [request_id]}, "max_count": 2}

    for dry_run in (True, False):
        refused = api.post("/jobs:cancel", params={"dry_run": dry_run}, json=wanted)
        assert refused.status_code == 422, refused.text
        assert refused.headers["content-type"] == "application/problem+json"
        assert refused.json()["code"] == "too_many_matches"
        assert refused.json()["details"] == {"matched": 3, "max_count": 2}
    assert set(_states(api, jobs.values()).values()) == {"accepted"}
    assert _job_rows(container, "/jobs:cancel") == []


def test_bulk_cancel_dry_run_shows_each_job_then_the_real_one_cancels_them_with_one_audit_entry_each(
    api, container, demo
):
    request_id, jobs = _submit(api, demo["committed"][:3])
    wanted = {"filter": {"request_ids": [request_id]}, "max_count": 3}

    planned = api.post("/jobs:cancel", params={"dry_run": True}, json=wanted).json()
    assert (planned["dry_run"], planned["matched"], planned["counts"]["would_cancel"]) == (True, 3, 3)
    assert {(j["id"], j["state"], j["state_after"]) for j in planned["jobs"]} == {
        (job_id, "accepted", None) for job_id in jobs.values()
    }
    assert set(_states(api, jobs.values()).values()) == {"accepted"}
    assert _job_rows(container, "/jobs:cancel") == []

    done = api.post("/jobs:cancel", json=wanted).json()
    assert (done["dry_run"], done["counts"]["cancelled"]) == (False, 3)
    assert {j["state_after"] for j in done["jobs"]} == {"cancelled"}
    assert set(_states(api, jobs.values()).values()) == {"cancelled"}
    audited = _job_rows(container, "/jobs:cancel")
    assert sorted(row.path for row in audited) == sorted(f"/jobs/{job_id}/cancel" for job_id in jobs.values())
    assert {row.request_id for row in audited} == {audited[0].request_id}  # the one bulk request's id


def test_each_job_keeps_its_own_rules_and_its_refusal_is_reported_beside_the_others(api, container, demo):
    first, second = demo["committed"][:2]
    _, done_jobs = _submit(api, [first])
    drive(container)
    _, new_jobs = _submit(api, [second])
    protected, accepted = done_jobs[first["name"]], new_jobs[second["name"]]

    answer = api.post("/jobs:cancel", json={"filter": {"states": ["protected", "accepted"]}})
    assert answer.status_code == 200, answer.text
    outcomes = {j["id"]: (j["outcome"], j["problem"]) for j in answer.json()["jobs"]}
    assert outcomes[accepted] == ("cancelled", None)
    assert outcomes[protected][0] == "refused"
    assert (outcomes[protected][1]["status"], outcomes[protected][1]["code"]) == (409, "job_terminal")
    assert outcomes[protected][1]["detail"] == api.post(f"/jobs/{protected}/cancel").json()["detail"]
    assert {k: v for k, v in answer.json()["counts"].items() if v} == {"cancelled": 1, "refused": 1}
    assert {row.path: (row.status, row.outcome) for row in _job_rows(container, "/jobs:cancel")} == {
        f"/jobs/{accepted}/cancel": (202, "succeeded"),
        f"/jobs/{protected}/cancel": (409, "refused"),
    }

    retried = api.post("/jobs:retry", json={"filter": {"states": ["protected"]}}).json()
    assert [(j["outcome"], j["problem"]["code"]) for j in retried["jobs"]] == [("refused", "job_not_failed")]


def test_only_jobs_in_the_callers_scopes_are_matched_or_counted(api, bare_with, container, demo):
    request_id, jobs = _submit(api, demo["committed"][:3])
    wanted = {"filter": {"request_ids": [request_id]}, "max_count": 1}
    outsider = {"Authorization": f"Bearer {make_key(container, role='operator', scopes=(OTHER_GROUP,))}"}
    insider = {"Authorization": f"Bearer {make_key(container, role='operator', scopes=(demo['vault_id'],))}"}

    for dry_run in (True, False):  # 3 jobs exist, but none for this caller: no cap refusal, nothing done
        answer = bare_with.post("/jobs:cancel", params={"dry_run": dry_run}, json=wanted, headers=outsider)
        assert (answer.status_code, answer.json()["matched"], answer.json()["jobs"]) == (200, 0, [])
    assert set(_states(api, jobs.values()).values()) == {"accepted"}

    seen = bare_with.post("/jobs:cancel", params={"dry_run": True}, json=wanted | {"max_count": 3}, headers=insider)
    assert seen.json()["matched"] == 3


def test_readers_are_refused_bulk_actions(bare_with, api, container, demo):
    _, jobs = _submit(api, demo["committed"][:1])
    reader = {"Authorization": f"Bearer {make_key(container, role='reader')}"}
    for action in ("retry", "cancel"):
        answer = bare_with.post(f"/jobs:{action}", json={"filter": {}}, headers=reader)
        assert (answer.status_code, answer.json()["code"]) == (403, "insufficient_role")
    assert set(_states(api, jobs.values()).values()) == {"accepted"}


def test_every_filter_criterion_narrows_the_match(api, container, demo):
    request_id, jobs = _submit(api, demo["committed"])
    vault = demo["vault_id"]
    subscription = vault.split("/")[2]
    first = sorted(jobs)[0]

    def matched(**criteria) -> int:
        answer = api.post("/jobs:cancel", params={"dry_run": True}, json={"filter": criteria})
        assert answer.status_code == 200, answer.text
        return int(answer.json()["matched"])

    everything = len(jobs)
    assert matched() == everything
    assert matched(vault_ids=[vault.upper()]) == everything
    assert matched(vault_ids=[vault + "-other"]) == 0
    assert matched(subscription_id=subscription.upper()) == everything
    assert matched(subscription_id="11111111-1111-1111-1111-111111111111") == 0
    assert matched(vm_name_prefix=first[:3].upper()) == sum(1 for vm in jobs if vm.startswith(first[:3]))
    assert matched(vm_name_prefix="%") == 0  # a literal prefix, not a pattern
    assert matched(request_ids=[request_id]) == everything
    assert matched(request_ids=[str(uuid.uuid4())]) == 0
    assert matched(created_after="2000-01-01T00:00:00Z", created_before="2100-01-01T00:00:00Z") == everything
    assert matched(created_before="2000-01-01T00:00:00Z") == 0
    assert matched(states=["failed"]) == 0
    assert matched(error_codes=["151195"]) == 0


def test_unknown_or_out_of_range_input_is_a_422_problem(api):
    for body in (
        {"filter": {}, "maxcount": 5},
        {"filter": {"state": ["failed"]}},
        {"filter": {}, "max_count": 1001},
        {"filter": {}, "max_count": 0},
        {"filter": {"created_after": 1700000000}},
        {"filter": {"states": []}},
        {"filter": {"vm_name_prefix": "web\u0000"}},  # Postgres text cannot hold NUL: refused, not a 500
        {"filter": {"subscription_id": "../other"}},
        {"max_count": 5},
    ):
        answer = api.post("/jobs:retry", json=body)
        assert (answer.status_code, answer.json()["code"]) == (422, "validation_failed"), body
    assert api.get("/jobs:retry").status_code == 405


def test_jobs_cancelled_in_bulk_send_the_same_webhooks_as_single_cancels(api, container, demo):
    with running_receiver() as receiver:
        endpoint = api.post("/webhooks", json={"url": receiver.url}).json()
        request_id, jobs = _submit(api, demo["committed"][:2])
        api.post("/jobs:cancel", json={"filter": {"request_ids": [request_id]}}).raise_for_status()
        deliver_due(container)
        events = [Webhook(endpoint["secret"]).verify(r.body, r.headers) for r in receiver.received]
    cancelled = sorted(e["data"]["job_id"] for e in events if e["type"] == "reprotect.job.cancelled")
    assert cancelled == sorted(jobs.values())


def test_jobs_azure_is_running_are_cancelled_through_azure_each_once(api, container, emulator, demo):
    emulator.put("/_emulator/time-scale", json={"time_scale": 1}).raise_for_status()
    items = demo["committed"][:2]
    # The cache account the demo already has (db-01's), so that no account is created at this slow clock.
    cache = demo["vault_id"].split("/providers/")[0].replace("contoso-dr-rg", "contoso-db-rg-asr")
    cache += "/providers/Microsoft.Storage/storageAccounts/k3v9qpcontosodrvasrcache"
    vms = [{"item_id": item["id"], "cache_storage_account_id": cache} for item in items]
    accepted = api.post("/reprotect", json={"vms": vms})
    assert accepted.status_code == 202, accepted.text
    request_id, jobs = accepted.json()["request_id"], {j["vm"]: j["id"] for j in accepted.json()["jobs"]}
    for job_id in jobs.values():
        drive(container, until_state="reprotecting", job_id=uuid.UUID(job_id))

    done = api.post("/jobs:cancel", json={"filter": {"request_ids": [request_id], "states": ["reprotecting"]}}).json()
    assert {(j["outcome"], j["state_after"]) for j in done["jobs"]} == {("cancelled", "reprotecting")}
    assert done["matched"] == 2
    emulator.put("/_emulator/time-scale", json={"time_scale": 20000}).raise_for_status()
    drive(container)
    assert set(_states(api, jobs.values()).values()) == {"cancelled"}
    calls = emulator.get("/_emulator/stats").json()["calls_by_item"]
    assert [calls[item["name"]]["ReplicationJobs_Cancel"] for item in items] == [1, 1]


def test_a_timestamp_past_what_the_database_holds_is_a_422_problem(api):
    far = "9999-12-31T23:59:59-14:00"
    for criterion in ("created_after", "created_before"):
        answer = api.post("/jobs:cancel", params={"dry_run": True}, json={"filter": {criterion: far}})
        assert answer.status_code == 422, answer.text
        assert answer.headers["content-type"] == "application/problem+json"
