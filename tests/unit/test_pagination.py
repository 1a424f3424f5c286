"""Keyset pages on the migrated tables (``jobs``: uuid keys, ``audit_log``: integer keys): opaque unpadded cursors,
exact page ends, one row read past the page and no more, and every cursor that is not one the service gave out
refused the same way."""

from __future__ import annotations

import base64
import json
import re
import uuid
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import event, select

from app.auth.models import AuditEntry
from app.bootstrap import wired_sessions
from app.db import build_engine, transaction
from app.errors import InvalidRequest
from app.job.models import Job, ReprotectRequest
from app.pagination import decode_cursor, encode_cursor, page
from tests.conftest import TABLES

T0 = datetime(2026, 1, 1, tzinfo=UTC)
REFUSED = "The cursor is not one this service gave out."
VAULT = "/subscriptions/s-1/resourceGroups/rg/providers/Microsoft.RecoveryServices/vaults/v"


@pytest.fixture
def sessions(database_url):
    engine = build_engine(database_url)
    _empty(engine)
    yield wired_sessions(engine)
    _empty(engine)  # the session's database is shared: leave it empty
    engine.dispose()


def _empty(engine) -> None:
    with engine.begin() as connection:
        for table in TABLES:
            connection.exec_driver_sql(f"DELETE FROM {table}")


@pytest.fixture
def session(sessions):
    with transaction(sessions) as session:
        yield session


def _jobs(session, n: int, *, at=lambda k: T0 + timedelta(seconds=k)) -> list[uuid.UUID]:
    """``n`` jobs created one second apart (or as ``at`` says); their ids newest first.

    Neither the ids nor the insertion order give that order by themselves: a later job gets a smaller id, and jobs
    sharing a timestamp are inserted in ascending id order.
    """
    request = ReprotectRequest(vm_count=n)
    session.add(request)
    session.flush()
    ascending = sorted(uuid.uuid4() for _ in range(n))
    ranked = sorted(range(n), key=lambda k: (T0 - at(k), k))  # latest first, then in insertion order
    id_of = {k: ascending[rank] for rank, k in enumerate(ranked)}
    jobs = [
        Job(
            id=id_of[k],
            request_id=request.id,
            vm_key=f"{VAULT}/vm-{k}".lower(),
            vm_name=f"vm-{k}",
            vault_id=VAULT,
            subscription_id="s-1",
            item_id=f"{VAULT}/replicationFabrics/f/replicationProtectionContainers/c/replicationProtectedItems/vm-{k}",
            deadline_at=T0 + timedelta(days=1),
            created_at=at(k),
        )
        for k in range(n)
    ]
    for job in jobs:
        session.add(job)
        session.flush()
    return [job.id for job in sorted(jobs, key=lambda job: (job.created_at, job.id), reverse=True)]


def _job_page(session, limit: int, cursor: str | None = None):
    return page(session, select(Job), created=Job.created_at, key=Job.id, limit=limit, cursor=cursor)


def _audit(session, n: int) -> None:
    session.add_all(
        AuditEntry(at=T0, request_id=f"r-{k}", method="GET", route="/jobs", path="/jobs", status=200, outcome="allowed")
        for k in range(n)
    )
    session.flush()


def _walk(session, query, *, created, key, limit: int) -> list:
    """Follow the cursors from the first page to the last; fail at a repeated row or a walk that does not end."""
    seen, cursor = [], None
    for _ in range(50):
        shown, cursor = page(session, query, created=created, key=key, limit=limit, cursor=cursor)
        ids = [row.id for row in shown]
        assert not set(ids) & set(seen), f"the page after {seen} repeats rows: {ids}"
        seen += ids
        if cursor is None:
            return seen
    raise AssertionError(f"the walk did not end: {seen}")


def test_a_list_exactly_one_page_long_has_no_next_cursor(session):
    ids = _jobs(session, 3)
    shown, cursor = _job_page(session, 3)
    assert [job.id for job in shown] == ids
    assert cursor is None


def test_one_row_more_than_the_page_gives_a_cursor_to_exactly_that_row(session):
    ids = _jobs(session, 4)
    shown, cursor = _job_page(session, 3)
    assert [job.id for job in shown] == ids[:3]
    assert cursor == encode_cursor(T0 + timedelta(seconds=1), ids[2])
    rest, last = _job_page(session, 3, cursor)
    assert ([job.id for job in rest], last) == (ids[3:], None)


def test_jobs_created_at_the_same_instant_page_by_id_without_repeats_or_gaps(session):
    ids = _jobs(session, 7, at=lambda k: T0 + timedelta(seconds=k // 3))  # three rows share each timestamp
    one_vault = select(Job).where(Job.vault_id == VAULT)  # filtered as lists are: the database may read any index
    assert _walk(session, one_vault, created=Job.created_at, key=Job.id, limit=2) == ids
    assert _walk(session, select(Job), created=Job.created_at, key=Job.id, limit=2) == ids


def test_integer_keys_page_by_number_not_by_text(session):
    # 9 < 10 as numbers but "9" > "10" as text: a cursor compared as text would skip or repeat rows.
    _audit(session, 12)
    ids = [row.id for row in session.scalars(select(AuditEntry).order_by(AuditEntry.id.desc()))]
    assert len(ids) == 12
    allowed = select(AuditEntry).where(AuditEntry.outcome == "allowed")
    assert _walk(session, allowed, created=AuditEntry.at, key=AuditEntry.id, limit=5) == ids
    assert _walk(session, select(AuditEntry), created=AuditEntry.at, key=AuditEntry.id, limit=5) == ids


@pytest.mark.parametrize("limit", [1, 3, 25])
def test_a_page_reads_one_row_past_its_end_and_no_more(sessions, session, limit):
    _jobs(session, 30)
    limits = []

    @event.listens_for(sessions, "do_orm_execute")
    def capture(state):
        sql = str(state.statement.compile(dialect=session.get_bind().dialect, compile_kwargs={"literal_binds": True}))
        limits.extend(int(n) for n in re.findall(r"LIMIT (\d+)", sql))

    shown, _ = _job_page(session, limit)
    assert len(shown) == limit
    assert limits == [limit + 1]


def test_cursors_are_url_safe_base64_without_padding_and_round_trip():
    for extra in range(6):  # lengths that would need 0, 1 and 2 padding characters
        at = T0 + timedelta(microseconds=extra)
        cursor = encode_cursor(at, "x" * extra)
        assert "=" not in cursor
        assert not set(cursor) - set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_")
        assert decode_cursor(cursor) == (at, "x" * extra)


def test_a_cursor_is_base64_of_the_json_timestamp_and_id():
    row_id = uuid.UUID("0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0")
    cursor = encode_cursor(T0, row_id)
    raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
    assert json.loads(raw) == ["2026-01-01T00:00:00+00:00", str(row_id)]


def _cursor(payload: object) -> str:
    return base64.urlsafe_b64encode(json.dumps(payload).encode()).decode().rstrip("=")


@pytest.mark.parametrize(
    "cursor",
    [
        "not base64 at all!",
        _cursor(["2026-01-01T00:00:00", "id"]),  # a naive timestamp
        _cursor(["2026-01-01T00:00:00+00:00", 5]),  # a row id that is not a string
        _cursor(["yesterday", "id"]),
        _cursor({"at": "2026-01-01T00:00:00+00:00"}),
        base64.urlsafe_b64encode(b"\xff\xfe").decode(),
    ],
)
def test_a_cursor_the_service_did_not_give_out_is_refused(cursor):
    with pytest.raises(InvalidRequest) as refused:
        decode_cursor(cursor)
    assert (refused.value.code, refused.value.message) == ("invalid_cursor", REFUSED)


@pytest.mark.parametrize(
    ("table", "created", "key"),
    [(Job, Job.created_at, Job.id), (AuditEntry, AuditEntry.at, AuditEntry.id)],
)
def test_a_well_formed_cursor_whose_id_does_not_fit_the_key_is_refused(session, table, created, key):
    _jobs(session, 2)
    _audit(session, 2)
    with pytest.raises(InvalidRequest) as refused:
        page(session, select(table), created=created, key=key, limit=1, cursor=encode_cursor(T0, "not-a-key"))
    assert (refused.value.code, refused.value.message) == ("invalid_cursor", REFUSED)
