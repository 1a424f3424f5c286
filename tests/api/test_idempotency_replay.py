"""Idempotency-Key replays are the stored first answer (202, dry-run 200 and refusals alike, without asking Azure again); a 503 releases the key; a reused key with another body is refused; the sweeper purges only expired keys."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import func, select

from app.auth import api_keys
from app.db import transaction, utcnow
from app.idempotency import models as idempotency
from app.job.models import Job, ReprotectRequest
from tests.api.worker_support import ARM_DEFAULT_THROTTLE, throttle
from tests.drive import drive

# Every ARM read is throttled with Retry-After: 64 s, beyond what the API waits during its checks (30 s).
SLOW_BUCKET = {"burst": 0, "per_second": 1 / 64}


@pytest.fixture(autouse=True)
def _default_throttle_afterwards(emulator):
    """Leave the shared emulator's bucket sizes as other tests expect them."""
    yield
    emulator.put("/_emulator/throttle", json=ARM_DEFAULT_THROTTLE).raise_for_status()


def _caller(api) -> str:
    return "key:" + api_keys.parse(api.headers["Authorization"].removeprefix("Bearer "))[0]


def _body(*items) -> dict:
    return {"vms": [{"item_id": i["id"]} for i in items]}


def _counts(container) -> tuple[int, int]:
    with transaction(container.sessions) as session:
        return (
            session.scalar(select(func.count()).select_from(ReprotectRequest)),
            session.scalar(select(func.count()).select_from(Job)),
        )


def _azure_requests(emulator) -> int:
    return emulator.get("/_emulator/stats").json()["requests"]


def _record(container, api, key: str):
    with transaction(container.sessions) as session:
        return session.get(idempotency.IdempotencyRecord, (_caller(api), key))


def _same_answer(first, again) -> None:
    assert again.status_code == first.status_code
    assert again.content == first.content  # byte for byte: the stored body, not a new rendering
    assert again.headers["content-type"] == first.headers["content-type"]
    for header in ("Location", "Retry-After"):
        assert again.headers.get(header) == first.headers.get(header)
    assert again.headers["Idempotent-Replayed"] == "true"
    assert "Idempotent-Replayed" not in first.headers


def test_a_replayed_202_is_the_first_answer_even_after_the_jobs_moved_on(api, container, emulator, demo):
    headers = {"Idempotency-Key": "accepted-once"}
    first = api.post("/reprotect", json=_body(*demo["committed"][:2]), headers=headers)
    assert first.status_code == 202, first.text
    drive(container)  # the jobs are protected now; the answer stays what it was
    asked = _azure_requests(emulator)

    again = api.post("/reprotect", json=_body(*demo["committed"][:2]), headers=headers)

    _same_answer(first, again)
    assert [j["state"] for j in again.json()["jobs"]] == ["accepted", "accepted"]
    assert _azure_requests(emulator) == asked  # a replay asks Azure nothing
    assert _counts(container) == (1, 2)


def test_a_replayed_dry_run_is_the_first_plan(api, container, emulator, demo):
    headers = {"Idempotency-Key": "plan-once"}
    first = api.post("/reprotect", params={"dry_run": "true"}, json=_body(demo["committed"][0]), headers=headers)
    assert first.status_code == 200, first.text
    asked = _azure_requests(emulator)

    again = api.post("/reprotect", params={"dry_run": "true"}, json=_body(demo["committed"][0]), headers=headers)

    _same_answer(first, again)
    assert _azure_requests(emulator) == asked
    assert _counts(container) == (0, 0)


def test_a_replayed_refusal_is_the_stored_422_even_once_the_cause_is_gone(api, container, emulator, demo):
    headers = {"Idempotency-Key": "refused-once"}
    emulator.put("/_emulator/regions/eastasia/outage", json={"down": True}).raise_for_status()
    first = api.post("/reprotect", json=_body(demo["committed"][0]), headers=headers)
    assert first.status_code == 422, first.text
    assert first.json()["vms"][0]["code"] == "target_region_unavailable"
    emulator.put("/_emulator/regions/eastasia/outage", json={"down": False}).raise_for_status()
    asked = _azure_requests(emulator)

    again = api.post("/reprotect", json=_body(demo["committed"][0]), headers=headers)

    _same_answer(first, again)
    assert _azure_requests(emulator) == asked
    assert _counts(container) == (0, 0)
    assert emulator.get("/_emulator/scenario").json()["outages"] == []  # the cause is gone in Azure


def test_a_503_while_azure_throttles_the_checks_releases_the_key_so_the_next_call_runs(api, container, emulator, demo):
    headers = {"Idempotency-Key": "throttled-once"}
    throttle(emulator, reads=SLOW_BUCKET)

    busy = api.post("/reprotect", json=_body(demo["committed"][0]), headers=headers)

    assert busy.status_code == 503, busy.text
    assert busy.json()["code"] == "azure_throttled"
    assert int(busy.headers["Retry-After"]) >= 64
    assert _record(container, api, "throttled-once") is None  # released, not stored
    assert _counts(container) == (0, 0)

    emulator.put("/_emulator/throttle", json={"enabled": False}).raise_for_status()
    ran = api.post("/reprotect", json=_body(demo["committed"][0]), headers=headers)
    assert ran.status_code == 202, ran.text
    assert "Idempotent-Replayed" not in ran.headers
    assert _counts(container) == (1, 1)
    assert _record(container, api, "throttled-once").response_status == 202


@pytest.mark.parametrize("stored", ["accepted", "refused", "dry_run"])
def test_the_same_key_with_another_body_is_refused_and_the_stored_answer_stays(api, container, emulator, demo, stored):
    key = {"Idempotency-Key": f"reuse-{stored}"}
    params = {"dry_run": "true"} if stored == "dry_run" else {}
    item = demo["deleted"] if stored == "refused" else demo["committed"][0]
    first = api.post("/reprotect", params=params, json=_body(item), headers=key)
    assert first.status_code == {"accepted": 202, "refused": 422, "dry_run": 200}[stored], first.text
    counts = _counts(container)

    for other_params, other_body in (
        (params, _body(demo["committed"][1])),  # another VM
        ({} if params else {"dry_run": "true"}, _body(item)),  # the same VM, with dry_run flipped
    ):
        reused = api.post("/reprotect", params=other_params, json=other_body, headers=key)
        assert reused.status_code == 422, reused.text
        assert reused.headers["content-type"] == "application/problem+json"
        assert reused.json()["code"] == "idempotency_key_reused"
        assert "Idempotent-Replayed" not in reused.headers
    assert _counts(container) == counts

    _same_answer(first, api.post("/reprotect", params=params, json=_body(item), headers=key))


def test_the_sweeper_purges_expired_keys_only_and_an_expired_key_is_then_free(
    api, container, emulator, demo, monkeypatch
):
    from workers import celery_app

    old, live = {"Idempotency-Key": "expired"}, {"Idempotency-Key": "still-live"}
    assert api.post("/reprotect", json=_body(demo["committed"][0]), headers=old).status_code == 202
    assert api.post("/reprotect", json=_body(demo["committed"][1]), headers=live).status_code == 202
    with transaction(container.sessions) as session:
        session.get_one(idempotency.IdempotencyRecord, (_caller(api), "expired")).expires_at = utcnow() - timedelta(
            seconds=1
        )
    monkeypatch.setattr(celery_app, "_container", container)

    celery_app.sweep()  # the periodic sweeper task, run in this process

    assert _record(container, api, "expired") is None
    assert _record(container, api, "still-live") is not None
    # The purged key now belongs to nothing: another body under it is a new request, not a reuse.
    fresh = api.post("/reprotect", json=_body(demo["committed"][2]), headers=old)
    assert fresh.status_code == 202, fresh.text
    assert "Idempotent-Replayed" not in fresh.headers
    assert _counts(container) == (3, 3)
