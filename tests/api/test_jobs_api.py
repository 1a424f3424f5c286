"""The read side and the HTTP contract: lists, pagination, ETags, problem+json, limits, health."""

from __future__ import annotations

import uuid

from tests.drive import drive


def _accept(api, items):
    answer = api.post("/reprotect", json={"vms": [{"item_id": i["id"]} for i in items]})
    assert answer.status_code == 202, answer.text
    return answer.json()


def test_job_answers_carry_an_etag_and_304_when_unchanged(api, container, demo):
    job_id = _accept(api, demo["committed"][:1])["jobs"][0]["id"]
    first = api.get(f"/jobs/{job_id}")
    assert first.headers["Retry-After"]
    etag = first.headers["ETag"]
    again = api.get(f"/jobs/{job_id}", headers={"If-None-Match": etag})
    assert again.status_code == 304
    assert again.headers["ETag"] == etag
    drive(container)
    changed = api.get(f"/jobs/{job_id}", headers={"If-None-Match": etag})
    assert changed.status_code == 200
    assert changed.headers["ETag"] != etag
    assert "Retry-After" not in changed.headers  # terminal: no need to poll


def test_jobs_list_filters_and_paginates_newest_first(api, container, demo):
    first = _accept(api, demo["committed"][:1])
    second = _accept(api, demo["committed"][1:3])
    page = api.get("/jobs", params={"limit": 2}).json()
    assert len(page["items"]) == 2
    rest = api.get("/jobs", params={"limit": 2, "cursor": page["next_cursor"]}).json()
    assert rest["next_cursor"] is None
    seen = [j["id"] for j in page["items"] + rest["items"]]
    assert len(set(seen)) == 3
    assert seen[-1] == first["jobs"][0]["id"]  # oldest last
    by_request = api.get("/jobs", params={"request_id": second["request_id"]}).json()["items"]
    assert {j["id"] for j in by_request} == {j["id"] for j in second["jobs"]}
    by_vm = api.get("/jobs", params={"vm": demo["committed"][0]["vm_name"]}).json()["items"]
    assert [j["id"] for j in by_vm] == [first["jobs"][0]["id"]]
    assert api.get("/jobs", params={"state": "protected"}).json()["items"] == []
    assert len(api.get("/jobs", params={"vault_id": demo["vault_id"].upper()}).json()["items"]) == 3


def test_request_summary_counts_jobs_per_state(api, container, demo):
    accepted = _accept(api, demo["committed"][:2])
    drive(container)
    summary = api.get(f"/reprotect/{accepted['request_id']}").json()
    assert summary["completed"] is True
    assert summary["counts"]["protected"] == 2
    assert sum(summary["counts"].values()) == 2


def test_unknown_ids_are_404_problems(api):
    for path in (f"/jobs/{uuid.uuid4()}", f"/reprotect/{uuid.uuid4()}"):
        answer = api.get(path)
        assert answer.status_code == 404
        assert answer.headers["content-type"] == "application/problem+json"
        assert answer.json()["code"] in {"job_not_found", "request_not_found"}


def test_malformed_input_is_a_422_problem(api):
    for body in (
        {},
        {"vms": []},
        {"vms": [{}]},
        {"vms": [{"item_id": "nope"}]},
        {"vms": [{"vault_id": "/subscriptions/x/y"}]},
        {"vms": [{"item_id": "/subscriptions/a/b", "colour": "red"}]},
    ):
        answer = api.post("/reprotect", json=body)
        assert answer.status_code == 422, body
        assert answer.json()["code"] == "validation_failed"
    assert api.get("/jobs", params={"cursor": "garbage!!"}).json()["code"] == "invalid_cursor"
    assert api.get("/jobs/not-a-uuid").status_code == 422


def test_more_than_100_vms_or_a_huge_body_is_refused(api):
    vms = [{"item_id": f"/subscriptions/s/resourceGroups/g/x/{n}"} for n in range(101)]
    assert api.post("/reprotect", json={"vms": vms}).status_code == 422
    huge = api.post(
        "/reprotect", content=b'{"vms": [' + b" " * 300_000 + b"]}", headers={"content-type": "application/json"}
    )
    assert huge.status_code == 413
    assert huge.json()["code"] == "body_too_large"


def test_a_malformed_item_id_is_named_in_the_problem(api, demo):
    bad = demo["vault_id"] + "/replicationFabrics/f/replicationProtectionContainers/c/replicationProtectedItems/ghost"
    answer = api.post("/reprotect", json={"vms": [{"item_id": bad}]})
    assert answer.status_code == 422
    assert answer.json()["vms"][0]["code"] == "vm_not_found"


def test_retry_of_a_job_that_did_not_fail_is_a_conflict(api, container, demo):
    job_id = _accept(api, demo["committed"][:1])["jobs"][0]["id"]
    answer = api.post(f"/jobs/{job_id}/retry")
    assert answer.status_code == 409
    assert answer.json()["code"] == "job_not_failed"


def test_health_and_readiness(api):
    assert api.get("/healthz").json() == {"status": "ok"}
    ready = api.get("/readyz")
    assert ready.status_code == 200
    assert ready.json()["checks"] == {"database": "ok", "broker": "ok", "azure_identity": "ok"}


def test_naive_timestamps_in_filters_are_refused_not_crashing(api):
    answer = api.get("/jobs", params={"created_after": "2024-01-01T00:00:00"})
    assert answer.status_code == 422
    assert answer.json()["code"] == "validation_failed"
    assert api.get("/jobs", params={"created_after": "2024-01-01T00:00:00Z"}).status_code == 200


def test_one_vm_named_by_id_and_by_name_is_a_duplicate(api, container, demo):
    item = demo["committed"][0]
    answer = api.post(
        "/reprotect", json={"vms": [{"item_id": item["id"]}, {"vault_id": demo["vault_id"], "vm_name": item["name"]}]}
    )
    assert answer.status_code == 422
    assert [p["code"] for p in answer.json()["vms"]] == ["duplicate_vm"]
