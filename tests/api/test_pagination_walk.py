"""Every list route walked page by page (limit 1 and 2) gives exactly the one-big-page list: newest first, ties on the timestamp broken by id, no repeats, no gaps."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from app.auth.models import ApiKey, AuditEntry
from app.db import transaction, utcnow
from app.job.models import Job
from app.webhook.models import WebhookDelivery, WebhookEndpoint

HOOK_URL = "http://127.0.0.1:9/hook"


def _walk(api, path: str, *, limit: int, expected_total: int) -> list[str]:
    """Follow next_cursor from the first page to the last; fail at the first repeated id or runaway walk."""
    seen: list[str] = []
    cursor = None
    for _ in range(expected_total + 2):
        params = {"limit": limit, **({"cursor": cursor} if cursor else {})}
        answer = api.get(path, params=params)
        assert answer.status_code == 200, answer.text
        page = answer.json()
        ids = [str(item["id"]) for item in page["items"]]
        assert len(ids) <= limit
        repeated = set(ids) & set(seen)
        assert not repeated, f"page after cursor {cursor} repeats {repeated}"
        seen.extend(ids)
        cursor = page["next_cursor"]
        if cursor is None:
            return seen
        assert ids, "an empty page must be the last one"
    raise AssertionError(f"the walk of {path} did not end after {expected_total + 2} pages: {seen}")


def _one_big_page(api, path: str) -> list[str]:
    answer = api.get(path, params={"limit": 200})
    assert answer.status_code == 200, answer.text
    assert answer.json()["next_cursor"] is None
    return [str(item["id"]) for item in answer.json()["items"]]


def _tie(container, model, column: str, ids: list) -> None:
    """Give the rows timestamps in groups of three identical values (a batch written in one transaction)."""
    base = utcnow().replace(microsecond=250_000) - timedelta(minutes=5)
    with transaction(container.sessions) as session:
        for index, row_id in enumerate(ids):
            row = session.get(model, row_id)
            setattr(row, column, base + timedelta(seconds=index // 3))


def _newest_first(container, model, column: str) -> list[str]:
    """The order the contract promises, computed from the rows: (timestamp, id) descending."""
    with transaction(container.sessions) as session:
        rows = session.execute(select(getattr(model, column), model.id)).all()
    key = (lambda r: (r[0], r[1])) if model is AuditEntry else (lambda r: (r[0], str(r[1]).replace("-", "")))
    return [str(r[1]) for r in sorted(rows, key=key, reverse=True)]


def _jobs(api, container, demo) -> list:
    vms = [{"item_id": i["id"]} for i in demo["committed"]]
    for _ in range(2):  # two rounds: cancelled at once, so the same VMs can be asked for again
        accepted = api.post("/reprotect", json={"vms": vms})
        assert accepted.status_code == 202, accepted.text
        for job in accepted.json()["jobs"]:
            assert api.post(f"/jobs/{job['id']}/cancel").status_code == 202
    accepted = api.post("/reprotect", json={"vms": vms[:3]})
    assert accepted.status_code == 202, accepted.text
    with transaction(container.sessions) as session:
        return list(session.scalars(select(Job.id)))


def _webhooks(api, container, demo) -> list:
    for n in range(8):
        assert api.post("/webhooks", json={"url": f"{HOOK_URL}/{n}"}).status_code == 201
    with transaction(container.sessions) as session:
        return list(session.scalars(select(WebhookEndpoint.id)))


def _deliveries(api, container, demo) -> list:
    for n in range(2):
        hook = {"url": f"{HOOK_URL}/{n}", "event_types": ["reprotect.job.cancelled"]}
        assert api.post("/webhooks", json=hook).status_code == 201
    accepted = api.post("/reprotect", json={"vms": [{"item_id": i["id"]} for i in demo["committed"]]})
    assert accepted.status_code == 202, accepted.text
    for job in accepted.json()["jobs"]:
        assert api.post(f"/jobs/{job['id']}/cancel").status_code == 202
    with transaction(container.sessions) as session:
        return list(session.scalars(select(WebhookDelivery.id)))


def _api_keys(api, container, demo) -> list:
    for n in range(7):
        created = api.post("/api-keys", json={"name": f"k{n}", "role": "reader", "scopes": ["*"]})
        assert created.status_code == 201, created.text
    with transaction(container.sessions) as session:
        return list(session.scalars(select(ApiKey.id)))


def _audit(api, container, demo) -> list:
    for n in range(4):
        assert api.post("/webhooks", json={"url": f"{HOOK_URL}/{n}"}).status_code == 201
        assert api.post("/api-keys", json={"name": f"k{n}", "role": "reader", "scopes": ["*"]}).status_code == 201
    with transaction(container.sessions) as session:
        return list(session.scalars(select(AuditEntry.id)))


ROUTES = {
    "/jobs": (_jobs, Job, "created_at"),
    "/webhooks": (_webhooks, WebhookEndpoint, "created_at"),
    "/webhook-deliveries": (_deliveries, WebhookDelivery, "created_at"),
    "/api-keys": (_api_keys, ApiKey, "created_at"),
    "/audit": (_audit, AuditEntry, "at"),
}


@pytest.mark.parametrize("path", list(ROUTES))
def test_walking_next_cursor_with_small_pages_gives_the_whole_list_once_in_order(api, container, demo, path):
    make, model, column = ROUTES[path]
    ids = make(api, container, demo)
    assert len(ids) >= 7
    _tie(container, model, column, ids)

    full = _one_big_page(api, path)
    assert len(full) == len(ids)
    assert full == _newest_first(container, model, column)  # newest first, ties broken by id (descending)
    for limit in (1, 2):
        walked = _walk(api, path, limit=limit, expected_total=len(full))
        assert walked == full, f"limit={limit}"
