"""The job event stream's limits through a real uvicorn process: a key revoked in another process ends its
streams at once (revocations heard on Redis), rechecks spend no rate budget, and streams are capped per caller."""

from __future__ import annotations

import time

import httpx
import pytest
from fastapi.testclient import TestClient

from app.api.app import create_app
from app.bootstrap import bootstrap
from tests.api.conftest import make_key
from tests.api.event_stream_support import Stream, api_process


def _wait_for_heartbeat(stream: Stream) -> None:
    while True:
        item = stream.next()
        assert item is not None
        assert item.kind == "comment", item
        if item.text.startswith("heartbeat"):
            return


def test_rechecks_of_a_streams_credential_spend_none_of_its_rate_budget(
    container, database_url, emulator, tmp_path, monkeypatch
):
    monkeypatch.setenv("REPROTECT_AUTH__RATE_LIMIT__LIMIT", "3/minute")
    key = make_key(container, role="reader")
    with api_process(database_url, str(emulator.base_url), tmp_path / "api.log") as server:  # rechecks every 0.3 s
        stream = Stream(server.url, key)  # one request of the three allowed
        assert stream.status == 200
        for _ in range(10):  # several credential checks meanwhile; none ended the stream
            _wait_for_heartbeat(stream)
        assert httpx.get(f"{server.url}/jobs", headers={"Authorization": f"Bearer {key}"}).status_code == 200
        stream.close()


def test_a_key_revoked_in_another_process_ends_its_stream_at_once(
    container, database_url, emulator, redis_url, tmp_path, monkeypatch
):
    monkeypatch.setenv("REPROTECT_AUTH__REVOCATION_REDIS_URL", redis_url)
    key = make_key(container, role="reader")
    key_id = key.split("_")[1]
    # The periodic recheck is far off: only the revocation heard on Redis can end the stream in this test.
    with api_process(database_url, str(emulator.base_url), tmp_path / "api.log", recheck_seconds="600") as server:
        stream = Stream(server.url, key)
        assert stream.status == 200
        for _ in range(3):  # the poller has begun watching the revocation epoch meanwhile
            _wait_for_heartbeat(stream)

        settings = container.settings.model_copy(
            update={"auth": container.settings.auth.model_copy(update={"revocation_redis_url": redis_url})}
        )
        other = bootstrap(settings)  # another process: the revocation reaches the API only through Redis
        try:
            admin = {"Authorization": f"Bearer {make_key(container, role='admin')}"}
            with TestClient(create_app(other), headers=admin) as client:
                assert client.delete(f"/api-keys/{key_id}").status_code == 204
            # Heartbeats come every 0.3 s: the stream ends long before its periodic recheck would.
            ending = stream.next()
            for _ in range(50):
                if ending is None or ending.kind != "comment":
                    break
                ending = stream.next()
        finally:
            other.close()
        assert ending is not None
        assert (ending.kind, ending.data.get("reason")) == ("resume", "credentials_changed"), ending
        assert stream.next_event() is None  # nothing more was sent
        stream.close()


def test_a_caller_may_hold_only_so_many_streams(container, database_url, emulator, tmp_path):
    key, other_key = make_key(container, role="reader"), make_key(container, role="reader")
    with api_process(
        database_url, str(emulator.base_url), tmp_path / "api.log", max_streams_per_principal="2"
    ) as server:
        first, second = Stream(server.url, key), Stream(server.url, key)
        assert (first.status, second.status) == (200, 200)
        refused = httpx.get(f"{server.url}/events/jobs", headers={"Authorization": f"Bearer {key}"})
        assert refused.status_code == 429, refused.text
        assert refused.headers["content-type"].startswith("application/problem+json")
        assert refused.json()["code"] == "too_many_streams"
        assert int(refused.headers["Retry-After"]) >= 1
        # Another caller is not held back by this one's streams.
        elsewhere = Stream(server.url, other_key)
        assert elsewhere.status == 200
        # A stream closed by its client frees its place (the server notices at its next write).
        first.close()
        for _ in range(100):
            third = Stream(server.url, key)
            if third.status == 200:
                break
            assert third.status == 429
            third.close()
            time.sleep(0.1)
        else:
            pytest.fail("a closed stream never freed its place")
        for stream in (second, elsewhere, third):
            stream.close()
