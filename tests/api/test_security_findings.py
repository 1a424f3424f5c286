"""The security probe's findings, closed: every list's cursors are computed after scope filtering (walked
as a narrow principal here, in test_narrow_walks.py and test_inventory.py), malformed cursors are 422 problems
on every list, a key never outlives the key that created it (expiry capped, revocation cascades), and callers
without a valid credential are rate limited per address and audited once per address and window."""

from __future__ import annotations

import base64
import json
from datetime import timedelta

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from app.api.app import create_app
from app.auth.authenticator import Authenticator
from app.auth.models import AuditEntry
from app.db import transaction, utcnow
from app.pagination import decode_cursor
from app.settings import RateLimitConfig
from tests.api.conftest import make_key

NARROW = "/subscriptions/00000000-0000-0000-0000-00000000000a/resourceGroups/rg-narrow"
ELSEWHERE = "/subscriptions/00000000-0000-0000-0000-00000000000b"
LISTS = ("/jobs", "/webhooks", "/webhook-deliveries", "/api-keys", "/audit", "/vms", "/campaigns")


def _walk(client, path: str, headers: dict[str, str]) -> tuple[list[str], list[str]]:
    """Every item id and every cursor met following next_cursor one item at a time."""
    ids, cursors, cursor = [], [], None
    for _ in range(200):
        answer = client.get(path, params={"limit": 1, **({"cursor": cursor} if cursor else {})}, headers=headers)
        assert answer.status_code == 200, answer.text
        page = answer.json()
        ids.extend(str(item["id"]) for item in page["items"])
        cursor = page["next_cursor"]
        if cursor is None:
            return ids, cursors
        cursors.append(cursor)
    raise AssertionError(f"{path}: no end")


@pytest.mark.parametrize("path", ["/api-keys", "/webhooks"])
def test_a_narrow_callers_cursors_only_ever_point_at_what_it_was_shown(api, bare_with, container, path):
    creators = {  # an endpoint takes its creator's scopes
        scope: {"Authorization": f"Bearer {make_key(container, role='admin', scopes=(scope,), name=scope)}"}
        for scope in (NARROW, ELSEWHERE)
    }
    for n in range(6):  # interleaved: every other row is outside the narrow admin's scope
        scope = NARROW if n % 2 else ELSEWHERE
        if path == "/api-keys":
            body: dict = {"name": f"k{n}", "role": "reader", "scopes": [scope]}
        else:
            body = {"url": f"http://127.0.0.1:9/hook/{n}"}
        assert bare_with.post(path, json=body, headers=creators[scope]).status_code == 201
    narrow = {"Authorization": f"Bearer {make_key(container, role='admin', scopes=(NARROW,), name='narrow')}"}
    everything = {str(item["id"]) for item in api.get(path, params={"limit": 200}).json()["items"]}

    ids, cursors = _walk(bare_with, path, narrow)

    visible = {str(item["id"]) for item in bare_with.get(path, params={"limit": 200}, headers=narrow).json()["items"]}
    assert sorted(ids) == sorted(visible)
    assert len(ids) < len(everything)
    for cursor in cursors:  # each cursor names the last row the narrow caller saw, never a hidden one
        assert decode_cursor(cursor)[1].replace("-", "") in {i.replace("-", "") for i in ids}


MALFORMED = [
    "x",
    "%%%",
    base64.urlsafe_b64encode(b"not json").decode(),
    base64.urlsafe_b64encode(json.dumps(["2026-01-01T00:00:00", "1"]).encode()).decode(),  # naive time
    base64.urlsafe_b64encode(json.dumps(["2026-01-01T00:00:00+00:00", 7]).encode()).decode(),
    base64.urlsafe_b64encode(json.dumps({"a": 1}).encode()).decode(),
    base64.urlsafe_b64encode(b"\xff\xfe\xfd").decode(),
    "A" * 199,
]
# Well-formed, but no id a list keyed by numbers or uuids ever gave out (API keys' ids are text).
BAD_IDS = [
    base64.urlsafe_b64encode(json.dumps(["2026-01-01T00:00:00+00:00", str(2**80)]).encode()).decode(),
    base64.urlsafe_b64encode(json.dumps(["2026-01-01T00:00:00+00:00", "-99999999999"]).encode()).decode(),
    base64.urlsafe_b64encode(json.dumps(["9999-12-31T23:59:59+14:00", "zz"]).encode()).decode(),
]


@pytest.mark.parametrize("path", LISTS)
def test_a_malformed_cursor_is_a_422_problem_on_every_list(api, path):
    for cursor in MALFORMED + (BAD_IDS if path not in ("/api-keys", "/vms") else []):
        answer = api.get(path, params={"cursor": cursor})
        assert answer.status_code == 422, (cursor, answer.status_code, answer.text)
        assert answer.headers["content-type"] == "application/problem+json"
        assert answer.headers["x-request-id"]


def test_a_key_never_outlives_the_key_that_created_it(api, bare_with, container):
    soon = utcnow() + timedelta(minutes=10)
    parent = api.post(
        "/api-keys", json={"name": "short", "role": "admin", "scopes": ["*"], "expires_at": soon.isoformat()}
    )
    assert parent.status_code == 201, parent.text
    as_parent = {"Authorization": f"Bearer {parent.json()['key']}"}

    child = bare_with.post("/api-keys", json={"name": "child", "role": "admin", "scopes": ["*"]}, headers=as_parent)
    assert child.status_code == 201, child.text
    assert child.json()["expires_at"] == parent.json()["expires_at"]  # inherits its creator's expiry
    later = (soon + timedelta(days=365)).isoformat()
    refused = bare_with.post(
        "/api-keys", json={"name": "forever", "role": "reader", "scopes": ["*"], "expires_at": later}, headers=as_parent
    )
    assert refused.status_code == 422
    assert refused.json()["code"] == "expiry_beyond_creator"
    as_child = {"Authorization": f"Bearer {child.json()['key']}"}
    grandchild = bare_with.post("/api-keys", json={"name": "gc", "role": "reader", "scopes": ["*"]}, headers=as_child)
    assert grandchild.status_code == 201
    as_grandchild = {"Authorization": f"Bearer {grandchild.json()['key']}"}
    assert bare_with.get("/jobs", headers=as_grandchild).status_code == 200

    assert api.delete(f"/api-keys/{parent.json()['id']}").status_code == 204  # revoking the parent...

    for headers in (as_parent, as_child, as_grandchild):  # ...revokes every key made under it
        assert bare_with.get("/jobs", headers=headers).status_code == 401
    keys = {k["id"]: k for k in api.get("/api-keys", params={"limit": 200}).json()["items"]}
    assert keys[grandchild.json()["id"]]["revoked_at"] is not None


def _limited(container, limit: str) -> None:
    config = container.settings.auth.model_copy(
        update={"rate_limit": RateLimitConfig(limit="1000/minute", unauthenticated_limit=limit)}
    )
    container.auth = Authenticator(config, container.sessions)


def test_refused_credentials_are_rate_limited_per_address_and_audited_once_per_window(container):
    _limited(container, "5/minute")
    good = {"Authorization": f"Bearer {make_key(container, role='reader')}"}
    bad = {"Authorization": "Bearer rpk_0000000000000000_nope"}
    app = create_app(container)
    with (
        TestClient(app, client=("203.0.113.7", 4000)) as flood,
        TestClient(app, client=("198.51.100.2", 4000)) as other,
    ):
        statuses = [flood.get("/jobs", headers=bad).status_code for _ in range(5)]
        statuses += [flood.post("/reprotect", json={"vms": []}).status_code for _ in range(40)]
        assert statuses[:5] == [401] * 5
        assert set(statuses[5:]) == {429}
        limited = flood.get("/jobs", headers=bad)
        assert int(limited.headers["Retry-After"]) >= 1
        assert limited.headers["content-type"] == "application/problem+json"
        assert flood.get("/jobs", headers=good).status_code == 200  # good credentials from it still pass
        assert other.get("/jobs", headers=bad).status_code == 401  # another address keeps its own budget
        assert other.get("/jobs", headers=good).status_code == 200

    with transaction(container.sessions) as session:
        rows = list(session.scalars(select(AuditEntry).where(AuditEntry.principal_id.is_(None))))
    sources = [row.detail["source"] for row in rows]
    assert sorted(sources) == ["198.51.100.2", "203.0.113.7"]  # 47 refusals: one row per address
    assert all(row.detail["window_seconds"] == 60 for row in rows)
