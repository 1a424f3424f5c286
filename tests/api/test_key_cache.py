"""API key lookups are cached per process, and a revocation through any process ends them everywhere at
once (Redis pub/sub); on real Redis only."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import text

from app.api.app import create_app
from app.bootstrap import Container, bootstrap
from app.db import utcnow
from tests.api.conftest import make_key


@pytest.fixture
def two_processes(container, redis_url) -> Iterator[tuple[Container, Container]]:
    """Two API containers on one database, each with its own key cache, hearing revocations on Redis."""
    auth = container.settings.auth.model_copy(update={"key_cache_seconds": 60, "revocation_redis_url": redis_url})
    settings = container.settings.model_copy(update={"auth": auth})
    boxes = (bootstrap(settings), bootstrap(settings))
    try:
        for box in boxes:  # both subscribed before the test begins
            assert box.auth.revocations is not None
            deadline = time.monotonic() + 5
            while box.auth.revocations.epoch() is None and time.monotonic() < deadline:
                time.sleep(0.02)
            assert box.auth.revocations.epoch() is not None, "never subscribed to the revocation channel"
        yield boxes
    finally:
        for box in boxes:
            box.close()


def test_a_key_revoked_in_one_api_process_is_refused_by_another_within_a_second(container, two_processes):
    first, second = two_processes
    key = make_key(container, role="reader")
    key_id = key.split("_")[1]
    admin = {"Authorization": f"Bearer {make_key(container, role='admin')}"}
    reader = {"Authorization": f"Bearer {key}"}
    with TestClient(create_app(first)) as one, TestClient(create_app(second)) as other:
        assert other.get("/jobs", headers=reader).status_code == 200
        # Revoked behind the service's back (nothing announced): the process that looked the key up keeps
        # its cached answer, the other reads the row and refuses. So the cache is really in use.
        with container.engine.begin() as connection:
            connection.execute(
                text("UPDATE api_keys SET revoked_at = :now WHERE id = :id"), {"now": utcnow(), "id": key_id}
            )
        assert other.get("/jobs", headers=reader).status_code == 200
        assert one.get("/jobs", headers=reader).status_code == 401
        # Revoked through the API of the first process: the second refuses the key within a second.
        assert one.delete(f"/api-keys/{key_id}", headers=admin).status_code == 204
        deadline = time.monotonic() + 1.0
        status = other.get("/jobs", headers=reader).status_code
        while status == 200 and time.monotonic() < deadline:
            time.sleep(0.01)
            status = other.get("/jobs", headers=reader).status_code
        assert status == 401
