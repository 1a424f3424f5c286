"""``GET /jobs/{id}`` on Postgres reads through the API's async pool, and answers the same when that
pool's connections were cut (the threaded read takes over while the pool replaces them)."""

from __future__ import annotations

import time

import psycopg
import pytest
from sqlalchemy.engine import make_url

from app.read_pool import APPLICATION_NAME
from tests.drive import drive


def _admin(container) -> str:
    return make_url(container.settings.database.url).set(drivername="postgresql").render_as_string(False)


def _pool_backends(conninfo: str) -> list[int]:
    with psycopg.connect(conninfo, autocommit=True) as connection:
        rows = connection.execute(
            "SELECT pid FROM pg_stat_activity WHERE application_name = %s AND datname = current_database()",
            (APPLICATION_NAME,),
        ).fetchall()
    return [pid for (pid,) in rows]


def test_a_job_reads_the_same_through_the_pool_and_after_its_connections_were_cut(api, container, demo):
    if not container.settings.database.url.startswith("postgresql"):
        pytest.skip("the async read pool exists on Postgres only (SQLite reads go through threads)")
    accepted = api.post("/reprotect", json={"vms": [{"item_id": demo["committed"][0]["id"]}]})
    job_id = accepted.json()["jobs"][0]["id"]
    drive(container)
    conninfo = _admin(container)
    first = api.get(f"/jobs/{job_id}")
    assert first.status_code == 200
    backends = _pool_backends(conninfo)
    assert backends, "the API opened no connection of its read pool"

    with psycopg.connect(conninfo, autocommit=True) as connection:
        for pid in backends:
            connection.execute("SELECT pg_terminate_backend(%s)", (pid,))
    for _ in backends:  # every pooled connection is dead: each read falls back, and the pool reconnects
        again = api.get(f"/jobs/{job_id}")
        assert again.status_code == 200
        assert again.json() == first.json()
        assert again.headers["ETag"] == first.headers["ETag"]
    deadline = time.monotonic() + 10
    while not (set(_pool_backends(conninfo)) - set(backends)) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert set(_pool_backends(conninfo)) - set(backends), "the pool did not replace its connections"
    assert api.get(f"/jobs/{job_id}", headers={"If-None-Match": first.headers["ETag"]}).status_code == 304
