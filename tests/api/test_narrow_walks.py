"""The lists whose rows lie in vaults (jobs, webhook deliveries, campaigns), seeded in two subscriptions' vaults
and walked one row per page as an admin scoped to one: no item and no cursor names a row outside its scope. The
audit trail spans every scope: a narrow admin is refused it. (API keys, webhooks: test_security_findings.py;
VMs: test_inventory.py.)"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import text

from app.api.app import create_app
from app.bootstrap import Container, bootstrap
from app.pagination import decode_cursor
from app.settings import FleetSettings
from emulator.fleet import subscription_id
from tests.api.conftest import make_key
from tests.conftest import TABLES, service_settings
from tests.emulator_process import running_emulator

SUBSCRIPTIONS = [subscription_id(0), subscription_id(1)]
NARROW, ELSEWHERE = (f"/subscriptions/{sub}" for sub in SUBSCRIPTIONS)
HOOK = "http://127.0.0.1:9/hook"
CANCELLED = ["reprotect.job.cancelled"]


@pytest.fixture(scope="module")
def two_vaults_url(tmp_path_factory) -> Iterator[str]:
    """An emulator serving ``fleet:16:2``: eight committed VMs in each of two subscriptions' vaults."""
    with running_emulator(
        tmp_path_factory.mktemp("two-vaults"), seed=5, time_scale=20000, scenario="fleet:16:2"
    ) as url:
        yield url


@pytest.fixture
def box(database_url, two_vaults_url) -> Iterator[Container]:
    httpx.post(f"{two_vaults_url}/_emulator/reset").raise_for_status()
    settings = service_settings(database_url, two_vaults_url)
    box = bootstrap(settings.model_copy(update={"fleet": FleetSettings(discover_in_subscriptions=SUBSCRIPTIONS)}))
    with box.engine.begin() as connection:
        for table in TABLES:
            connection.execute(text(f"DELETE FROM {table}"))
    yield box
    box.close()


def _as(box: Container, scope: str, role: str = "admin") -> dict[str, str]:
    return {"Authorization": f"Bearer {make_key(box, role=role, scopes=(scope,), name=f'{role} {scope}')}"}


def _vaults(url: str) -> list[dict[str, Any]]:
    """The two vaults (subscription order) as the emulator describes them: id and items."""
    scenario = httpx.get(f"{url}/_emulator/scenario").json()
    return [sub["vaults"][0] for sub in sorted(scenario["subscriptions"], key=lambda s: SUBSCRIPTIONS.index(s["id"]))]


def _seed(client: TestClient, box: Container, url: str) -> dict[str, set[str]]:
    """Rows in both scopes, interleaved in time; returns the ids of each kind the narrow admin may see."""
    vaults = _vaults(url)
    endpoints = {}
    for scope in (NARROW, ELSEWHERE, "*"):  # an endpoint takes its creator's scopes; "*" gets every vault's events
        made = client.post("/webhooks", json={"url": f"{HOOK}/{len(endpoints)}", "event_types": CANCELLED},
                           headers=_as(box, scope))  # fmt: skip
        assert made.status_code == 201, made.text
        endpoints[scope] = made.json()["id"]
    wide = _as(box, "*")
    jobs: dict[str, set[str]] = {NARROW: set(), ELSEWHERE: set()}
    requests: dict[str, set[str]] = {NARROW: set(), ELSEWHERE: set()}
    for n in range(6):  # every other job in the narrow admin's vault; each with a callback receiver too
        scope, vault = (NARROW, vaults[0]) if n % 2 else (ELSEWHERE, vaults[1])
        body = {"vms": [{"item_id": vault["items"][n // 2]["id"]}], "callback_url": f"{HOOK}/callback/{n}"}
        accepted = client.post("/reprotect", json=body, headers=wide)
        assert accepted.status_code == 202, accepted.text
        job_id = accepted.json()["jobs"][0]["id"]
        assert client.post(f"/jobs/{job_id}/cancel", headers=wide).status_code == 202  # a delivery per receiver
        jobs[scope].add(job_id)
        requests[scope].add(accepted.json()["request_id"])
    campaigns: dict[str, set[str]] = {NARROW: set(), ELSEWHERE: set(), "*": set()}
    picks = [[(NARROW, vaults[0])] if n % 2 else [(ELSEWHERE, vaults[1])] for n in range(8)]
    picks.insert(3, [(NARROW, vaults[0]), (ELSEWHERE, vaults[1])])  # spans both vaults: only "*" callers see it
    used = [3, 3]  # each vault's items 0-2 have jobs; a campaign's VMs are its own
    for n, pick in enumerate(picks):
        vms = []
        for scope, vault in pick:
            index = used[scope == ELSEWHERE]
            used[scope == ELSEWHERE] += 1
            vms.append({"vault_id": vault["id"], "vm_name": vault["items"][index]["vm_name"], "wave": 1})
        made = client.post("/campaigns", json={"name": f"c{n}", "vms": vms, "drill": False}, headers=wide)
        assert made.status_code == 201, made.text
        campaigns[pick[0][0] if len(pick) == 1 else "*"].add(made.json()["id"])
    deliveries = client.get("/webhook-deliveries", params={"limit": 200}, headers=wide).json()["items"]
    seen_deliveries = {  # about a narrow request, to the narrow endpoint or the request's own callback
        d["id"]
        for d in deliveries
        if d["request_id"] in requests[NARROW] and d["endpoint_id"] in (endpoints[NARROW], None)
    }
    # Per job: cancelled to its scope's endpoint, the "*" one and the callback; per request: completed to the callback.
    assert (len(seen_deliveries), len(deliveries)) == (3 * 2 + 3, 6 * 3 + 6)
    return {"/jobs": jobs[NARROW], "/webhook-deliveries": seen_deliveries, "/campaigns": campaigns[NARROW]}


def _walk(client: TestClient, path: str, headers: dict[str, str]) -> tuple[list[dict[str, Any]], list[str]]:
    """Every item met following next_cursor one item at a time; each cursor names the last item of its page."""
    items: list[dict[str, Any]] = []
    cursors: list[str] = []
    cursor = None
    for _ in range(50):
        answer = client.get(path, params={"limit": 1, **({"cursor": cursor} if cursor else {})}, headers=headers)
        assert answer.status_code == 200, answer.text
        page = answer.json()
        items.extend(page["items"])
        cursor = page["next_cursor"]
        if cursor is None:
            return items, cursors
        cursors.append(cursor)
        assert page["items"], f"{path}: a cursor after an empty page names a row the caller was not shown"
        at, row_id = decode_cursor(cursor)  # the position of a row the caller was just shown, nothing else
        last = page["items"][-1]
        assert (at, row_id.replace("-", "")) == (
            datetime.fromisoformat(last["created_at"]),
            last["id"].replace("-", ""),
        )
    raise AssertionError(f"{path}: no end")


@pytest.mark.parametrize("path", ["/jobs", "/webhook-deliveries", "/campaigns"])
def test_a_narrow_admin_walking_a_vault_scoped_list_meets_only_its_own_rows(box, two_vaults_url, path):
    with TestClient(create_app(box)) as client:
        visible = _seed(client, box, two_vaults_url)[path]
        everything = client.get(path, params={"limit": 200}, headers=_as(box, "*")).json()["items"]
        order = [item["id"] for item in everything]
        assert visible < set(order)
        # Hidden rows lie between the visible ones: a cursor computed before filtering would name one.
        positions = [order.index(i) for i in visible]
        assert set(order[min(positions) : max(positions)]) - visible

        items, cursors = _walk(client, path, _as(box, NARROW))

    assert [item["id"] for item in items] == [i for i in order if i in visible]  # newest first, each once
    assert len(cursors) == len(visible) - 1
    if path == "/jobs":
        assert all(item["vault_id"].lower().startswith(f"{NARROW}/".lower()) for item in items)


def test_the_audit_trail_spans_every_scope_so_a_narrow_admin_is_refused_it(box):
    with TestClient(create_app(box)) as client:
        wide = _as(box, "*")
        for n in range(3):  # rows, and a real cursor a narrow admin might have been handed
            assert client.post("/webhooks", json={"url": f"{HOOK}/{n}"}, headers=wide).status_code == 201
        cursor = client.get("/audit", params={"limit": 1}, headers=wide).json()["next_cursor"]
        assert cursor
        for params in ({}, {"limit": 1}, {"cursor": cursor}, {"cursor": "x"}):
            refused = client.get("/audit", params=params, headers=_as(box, NARROW))
            assert refused.status_code == 403, (params, refused.text)
            assert refused.headers["content-type"] == "application/problem+json"
            assert refused.json()["code"] == "outside_scope"
            assert "items" not in refused.json()
