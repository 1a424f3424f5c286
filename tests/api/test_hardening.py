"""Plain regression tests for defects an independent review found (each failed before its fix)."""

from __future__ import annotations

import logging

from sqlalchemy import text

from tests.api.conftest import make_key
from tests.drive import drive

FAR = "9999-12-31T23:59:59-14:00"  # aware, but past what a UTC timestamp can hold


def test_a_database_error_while_storing_a_secret_does_not_log_it(api, container, caplog):
    with container.engine.begin() as connection:
        connection.execute(text("ALTER TABLE webhook_endpoints RENAME TO webhook_endpoints_away"))
    try:
        with caplog.at_level(logging.DEBUG):
            answer = api.post("/webhooks", json={"url": "http://127.0.0.1:9/hooks"})
    finally:
        with container.engine.begin() as connection:
            connection.execute(text("ALTER TABLE webhook_endpoints_away RENAME TO webhook_endpoints"))
    assert answer.status_code >= 500  # 503 on SQLite (operational), 500 on Postgres (undefined table)
    assert answer.headers["content-type"] == "application/problem+json"
    assert "whsec_" not in caplog.text
    assert "whsec_" not in answer.text


def test_timestamps_out_of_range_are_422_not_500(api):
    for path, params in (
        ("/jobs", {"created_before": FAR}),
        ("/jobs", {"created_after": FAR}),
        ("/audit", {"since": FAR}),
    ):
        answer = api.get(path, params=params)
        assert answer.status_code == 422, (path, answer.text)
        assert answer.headers["content-type"] == "application/problem+json"
    created = api.post("/api-keys", json={"name": "n", "role": "reader", "scopes": ["*"], "expires_at": FAR})
    assert created.status_code == 422


def test_a_scoped_admin_giving_a_malformed_scope_gets_422(bare_with, container):
    headers = {"Authorization": f"Bearer {make_key(container, scopes=('/subscriptions/abc',))}"}
    answer = bare_with.post("/api-keys", json={"name": "n", "role": "reader", "scopes": ["garbage"]}, headers=headers)
    assert answer.status_code == 422
    assert answer.json()["code"] == "invalid_scope"


def test_a_host_that_is_not_valid_idna_is_refused_not_500(api, container):
    container.settings.webhook.allow_http = False
    for url in ("https://xn--a.com/hook", "https://xn--ls8h.la/hook"):
        answer = api.post("/webhooks", json={"url": url})
        assert answer.status_code == 422, answer.text
        assert answer.json()["code"] == "webhook_url_refused"


def test_customisation_targets_outside_the_callers_scopes_are_403(bare_with, container, demo):
    headers = {"Authorization": f"Bearer {make_key(container, role='operator', scopes=(demo['vault_id'],))}"}
    elsewhere = "/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/other/providers/Microsoft.Compute/availabilitySets/a"
    vm = {"item_id": demo["committed"][0]["id"], "availability_set_id": elsewhere}
    answer = bare_with.post("/reprotect", params={"dry_run": "true"}, json={"vms": [vm]}, headers=headers)
    assert answer.status_code == 403
    assert answer.json()["details"]["outside_scope"] == [elsewhere]


def test_ids_with_dot_segments_or_query_tricks_are_422(api, demo):
    item = demo["committed"][0]["id"]
    for vm in (
        {"item_id": item, "cache_storage_account_id": item + "/../..?api-version=1&"},
        {"item_id": item + "/.."},
        {"vault_id": demo["vault_id"] + "//", "vm_name": "web-01"},
    ):
        answer = api.post("/reprotect", params={"dry_run": "true"}, json={"vms": [vm]})
        assert answer.status_code == 422, (vm, answer.text)
        assert answer.json()["code"] == "validation_failed"


def test_deliveries_to_an_endpoint_the_caller_cannot_see_are_invisible(api, bare_with, container, demo):
    api.post("/webhooks", json={"url": "http://127.0.0.1:9/hooks"}).raise_for_status()  # an unrestricted admin's
    api.post("/reprotect", json={"vms": [{"item_id": demo["committed"][0]["id"]}]}).raise_for_status()
    drive(container)
    [delivery] = [d for d in api.get("/webhook-deliveries").json()["items"] if d["event_type"].endswith("succeeded")]
    scoped = {"Authorization": f"Bearer {make_key(container, scopes=(demo['vault_id'],))}"}
    assert bare_with.get(f"/jobs/{delivery['job_id']}", headers=scoped).status_code == 200  # the job: yes
    assert bare_with.get("/webhook-deliveries", headers=scoped).json()["items"] == []  # its receiver: no
    assert bare_with.get(f"/webhook-deliveries/{delivery['id']}", headers=scoped).status_code == 404
