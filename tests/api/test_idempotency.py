"""``Idempotency-Key`` on ``POST /reprotect``: replay, reuse refused, in flight refused, survives a dead caller."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import func, select

from app.auth import api_keys
from app.db import transaction, utcnow
from app.errors import Conflict
from app.idempotency import service as idempotency
from app.job.models import ReprotectRequest
from app.job.schemas import ReprotectIn


def _requests(container) -> int:
    with transaction(container.sessions) as session:
        return session.scalar(select(func.count()).select_from(ReprotectRequest))


def _caller(api) -> str:
    """The principal id of the test client's key: idempotency keys are per caller."""
    return "key:" + api_keys.parse(api.headers["Authorization"].removeprefix("Bearer "))[0]


def _body(item):
    return {"vms": [{"item_id": item["id"]}]}


def test_the_same_key_and_body_replays_the_first_answer(api, container, demo):
    headers = {"Idempotency-Key": "7c1e9a52-request-1"}
    first = api.post("/reprotect", json=_body(demo["committed"][0]), headers=headers)
    again = api.post("/reprotect", json=_body(demo["committed"][0]), headers=headers)
    assert first.status_code == again.status_code == 202
    assert again.json() == first.json()
    assert again.headers["Location"] == first.headers["Location"]
    assert again.headers["Retry-After"] == first.headers["Retry-After"]
    assert again.headers["Idempotent-Replayed"] == "true"
    assert "Idempotent-Replayed" not in first.headers
    assert _requests(container) == 1
    # Without the key the same body is a new request, refused because the VM already has a job.
    assert api.post("/reprotect", json=_body(demo["committed"][0])).status_code == 409


def test_json_key_order_and_whitespace_do_not_make_a_different_body(api, container, demo):
    item = demo["committed"][0]
    headers = {"Idempotency-Key": "spacing", "content-type": "application/json"}
    first = api.post("/reprotect", content=f'{{"vms": [{{"item_id": "{item["id"]}"}}]}}', headers=headers)
    again = api.post("/reprotect", content=f'{{ "vms":[ {{ "item_id":"{item["id"]}" }} ] }}', headers=headers)
    assert first.status_code == again.status_code == 202
    assert again.json()["request_id"] == first.json()["request_id"]


def test_the_same_key_with_another_body_is_refused(api, container, demo):
    headers = {"Idempotency-Key": "reused"}
    assert api.post("/reprotect", json=_body(demo["committed"][0]), headers=headers).status_code == 202
    reused = api.post("/reprotect", json=_body(demo["committed"][1]), headers=headers)
    assert reused.status_code == 422
    assert reused.headers["content-type"] == "application/problem+json"
    assert reused.json()["code"] == "idempotency_key_reused"
    assert _requests(container) == 1


def test_a_key_still_being_processed_is_409_and_taken_over_once_its_caller_is_gone(api, container, demo):
    body = _body(demo["committed"][0])
    digest = idempotency.fingerprint(
        {"body": ReprotectIn.model_validate(body).model_dump(mode="json"), "dry_run": False}
    )
    owner = _caller(api)
    claim = idempotency.begin(
        container.sessions,
        owner=owner,
        key="in-flight",
        digest=digest,
        now=utcnow(),
        ttl=timedelta(hours=24),
        lock=timedelta(minutes=5),  # held until the test lets it lapse below (1 s lapsed under CI's load)
    )
    assert isinstance(claim, idempotency.Claim)
    busy = api.post("/reprotect", json=body, headers={"Idempotency-Key": "in-flight"})
    assert busy.status_code == 409, busy.text
    assert busy.json()["code"] == "idempotency_key_in_use"
    assert _requests(container) == 0

    # The first caller died holding the key (nothing was committed with it): after its lock, a retry runs.
    with transaction(container.sessions) as session:
        session.get_one(idempotency.IdempotencyRecord, (owner, "in-flight")).locked_until = utcnow()
    taken = api.post("/reprotect", json=body, headers={"Idempotency-Key": "in-flight"})
    assert taken.status_code == 202, taken.text
    assert _requests(container) == 1
    # The overrun first call comes back late: it may not overwrite the answer (regression: review finding).
    idempotency.store_now(container.sessions, claim, idempotency.Answer(status=409, headers={}, body={"late": 1}))
    with pytest.raises(Conflict), transaction(container.sessions) as session:
        idempotency.store(session, claim, idempotency.Answer(status=202, headers={}, body={"late": 2}))
    replay = api.post("/reprotect", json=body, headers={"Idempotency-Key": "in-flight"})
    assert replay.json() == taken.json()


def test_a_refusal_is_replayed_too_and_a_malformed_key_is_422(api, container, demo):
    headers = {"Idempotency-Key": "refused-once"}
    first = api.post("/reprotect", json=_body(demo["deleted"]), headers=headers)
    again = api.post("/reprotect", json=_body(demo["deleted"]), headers=headers)
    assert first.status_code == again.status_code == 422
    assert again.json() == first.json()
    assert again.headers["content-type"] == "application/problem+json"
    bad = api.post("/reprotect", json=_body(demo["committed"][0]), headers={"Idempotency-Key": "has space"})
    assert bad.status_code == 422
    assert bad.json()["code"] == "invalid_idempotency_key"


def test_expired_keys_are_forgotten(api, container, demo):
    headers = {"Idempotency-Key": "old"}
    first = api.post("/reprotect", json=_body(demo["committed"][0]), headers=headers)
    with transaction(container.sessions) as session:
        session.get_one(idempotency.IdempotencyRecord, (_caller(api), "old")).expires_at = utcnow() - timedelta(
            seconds=1
        )
        assert idempotency.purge_expired(session, now=utcnow()) == 1
    again = api.post("/reprotect", json=_body(demo["committed"][0]), headers=headers)
    assert again.status_code == 409  # processed anew: the VM already has the first request's job
    assert first.json()["jobs"][0]["id"] in again.text
