"""``GET /jobs/{id}`` and the compact ``GET /jobs`` on Postgres read through the API's async pool, and answer
the same as the threaded read: every list filter byte for byte, and a job when the pool's connections were cut
(the threaded read takes over while the pool replaces them)."""

from __future__ import annotations

import asyncio
import itertools
import json
import time
from datetime import datetime, timedelta, timezone

import psycopg
import pytest
from sqlalchemy.engine import make_url

from app.auth.principal import Principal, PrincipalKind, Role
from app.errors import InvalidRequest
from app.job.kinds import JobKind
from app.job.models import Job
from app.job.queries import JobFilter
from app.job.reads import list_page, list_page_async
from app.job.states import JobState
from app.read_pool import APPLICATION_NAME, AsyncReadPool
from app.scopes import ScopeSet
from tests.drive import drive
from tests.unit.job_rows import NOW, VAULT, add_job, empty_database


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


OTHER_VAULT = VAULT.replace("vijami-alertrg", "other_rg").replace("vijamireprotecttest", "elsewhere")  # '_' escaped


def _reader(*scopes: str) -> Principal:
    return Principal(id="reader", kind=PrincipalKind.API_KEY, name="r", role=Role.READER, scopes=ScopeSet.parse(scopes))


def test_every_list_filter_reads_the_same_through_the_pool_and_through_threads(database_url):
    """The compact ``GET /jobs`` page the async pool builds is, byte for byte, the threaded read's: every filter,
    cursors, a restricted caller's scopes (inlined prefixes), failed jobs' error details (json as text)."""
    if not database_url.startswith("postgresql"):
        pytest.skip("the async read pool exists on Postgres only (SQLite reads go through threads)")
    with empty_database(database_url) as sessions:
        request_id = None
        for n in range(12):
            failed = n % 3 == 0
            job_id = add_job(
                sessions,
                name=f"vm-{n:02d}",
                vault_id=VAULT if n % 2 else OTHER_VAULT,
                state="failed" if failed else "syncing",
                error_code="151195" if failed else None,
                error_message="Azure said no" if failed else None,
                failed_in="reprotecting" if failed else None,
                error_details={"possible_causes": ["x"], "n": n} if failed else None,
                resync_percent=None if failed else 10 * n,
                created_at=NOW + timedelta(seconds=n),
                eta_at=NOW + timedelta(hours=n),
            )
            if n == 4:
                with sessions() as session:
                    request_id = session.get(Job, job_id).request_id
        filters = [
            JobFilter(),
            JobFilter(state=JobState.FAILED),
            JobFilter(state=JobState.SYNCING, vault_id=VAULT.upper()),
            JobFilter(subscription_id="7C943C1B-5122-4097-90C8-861411BDD574"),
            JobFilter(vm="VM-03"),
            JobFilter(request_id=request_id),
            JobFilter(error_code="151195"),
            JobFilter(created_after=NOW + timedelta(seconds=3), created_before=NOW + timedelta(seconds=9)),
            JobFilter(kind=JobKind.REPROTECT, state=JobState.FAILED),
        ]
        principals = [
            _reader("*"),
            _reader(VAULT.split("/providers/")[0]),  # a resource group: a LIKE on the prefix
            _reader(OTHER_VAULT),  # a vault, in a resource group whose name holds '_'
            _reader(VAULT, OTHER_VAULT.split("/resourceGroups/")[0]),  # a vault and a subscription: an OR
            _reader(),  # no scope: sees nothing
        ]

        async def compare() -> int:
            pool = await AsyncReadPool.open(database_url, size=2)
            assert pool is not None
            pages = 0
            try:
                for principal, where in itertools.product(principals, filters):
                    cursor: str | None = None
                    while True:  # walked two at a time: the cursor shape too
                        threaded = list_page(sessions, principal=principal, where=where, limit=2, cursor=cursor)
                        pooled = await list_page_async(pool, principal=principal, where=where, limit=2, cursor=cursor)
                        assert pooled == threaded, (principal.scopes, where, cursor)
                        pages += 1
                        cursor = json.loads(threaded)["next_cursor"]
                        if cursor is None:
                            break
                assert (
                    await list_page_async(pool, principal=principal, where=where, limit=2, cursor=None, view="full")
                    is None
                )
            finally:
                await pool.close()
            return pages

        pages = asyncio.run(compare())
        assert pages > len(principals) * len(filters)  # some filters had more than one page
        # A time Postgres cannot hold once in UTC is refused alike (the statement's parameters are shared).
        too_early = JobFilter(created_after=datetime(1, 1, 1, tzinfo=timezone(timedelta(hours=14))))
        with pytest.raises(InvalidRequest) as refused:
            list_page(sessions, principal=principals[0], where=too_early, limit=2, cursor=None)
        assert refused.value.code == "value_out_of_range"
