"""With the job database unreachable the API refuses with 503 + Retry-After (nothing half-done) and says so."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from app.api.app import create_app
from app.auth import api_keys
from app.bootstrap import bootstrap
from cli.stack import free_port
from tests.conftest import service_settings


@pytest.fixture
def api_without_database(emulator):
    # A real connection attempt to a port nothing listens on: the way a stopped database fails.
    url = f"postgresql+psycopg://postgres@127.0.0.1:{free_port()}/reprotect?connect_timeout=2"
    box = bootstrap(service_settings(url, str(emulator.base_url)))
    # Any well-formed key: checking it needs the database, which is down.
    headers = {"Authorization": f"Bearer {api_keys.generate().plaintext}"}
    with TestClient(create_app(box), headers=headers) as client:
        yield client
    box.close()


def test_a_reprotect_while_the_database_is_down_is_503_with_retry_after(api_without_database, demo):
    body = {"vms": [{"item_id": demo["committed"][0]["id"]}]}
    for headers in ({}, {"Idempotency-Key": "while-down"}):
        answer = api_without_database.post("/reprotect", json=body, headers=headers)
        assert answer.status_code == 503, answer.text
        assert answer.headers["content-type"] == "application/problem+json"
        assert answer.json()["code"] == "database_unavailable"
        assert int(answer.headers["Retry-After"]) >= 1


def test_readiness_reports_the_database_down(api_without_database):
    ready = api_without_database.get("/readyz")
    assert ready.status_code == 503
    assert ready.json()["checks"]["database"] == "down"
    assert api_without_database.get("/healthz").status_code == 200
