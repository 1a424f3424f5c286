"""Idempotency keys on a migrated database: who may claim a key, what is replayed, refused, taken over, released and purged, to the microsecond."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import event, insert, select
from sqlalchemy.dialects import postgresql

from app.bootstrap import wired_sessions
from app.db import build_engine, transaction
from app.errors import Conflict, InvalidRequest
from app.idempotency.models import COMPLETED, PROCESSING, IdempotencyRecord
from app.idempotency.service import (
    Answer,
    Claim,
    begin,
    check_key,
    fingerprint,
    purge_expired,
    release,
    store,
    store_now,
)

T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
TTL = timedelta(hours=24)
LOCK = timedelta(seconds=60)
TICK = timedelta(microseconds=1)
OWNER = "key:ops-team"
DIGEST = fingerprint({"body": {"vms": [{"item_id": "a"}]}, "dry_run": False})
OTHER_DIGEST = fingerprint({"body": {"vms": [{"item_id": "b"}]}, "dry_run": False})
ACCEPTED = Answer(status=202, headers={"Location": "/requests/r1", "Retry-After": "5"}, body={"request_id": "r1"})

IN_FLIGHT = "A request with this Idempotency-Key is still being processed; retry shortly to get its answer."
REUSED = "This Idempotency-Key was used with a different request body; use a new key for a new request."
OVERRAN = (
    "This request overran and a retry with the same Idempotency-Key took over; nothing was recorded by this call. "
    "Retry with the same key to get the answer."
)
INVALID_KEY = "Idempotency-Key must be 1-255 visible ASCII characters (a UUID is a good choice)."


@pytest.fixture
def engine(database_url):
    engine = build_engine(database_url)
    with engine.begin() as connection:
        connection.execute(IdempotencyRecord.__table__.delete())
    yield engine
    with engine.begin() as connection:  # the session's database is shared: leave it empty
        connection.execute(IdempotencyRecord.__table__.delete())
    engine.dispose()


@pytest.fixture
def sessions(engine):
    return wired_sessions(engine)


def claim(sessions, key: str = "k-1", *, owner: str = OWNER, digest: str = DIGEST, now: datetime = T0):
    return begin(sessions, owner=owner, key=key, digest=digest, now=now, ttl=TTL, lock=LOCK)


def row(sessions, key: str = "k-1", owner: str = OWNER) -> IdempotencyRecord | None:
    with transaction(sessions) as session:
        return session.get(IdempotencyRecord, (owner, key))


def keys(sessions) -> set[tuple[str, str]]:
    with transaction(sessions) as session:
        return {(owner, key) for owner, key in session.execute(select(IdempotencyRecord.owner, IdempotencyRecord.key))}


def test_a_fingerprint_is_the_sha256_of_canonical_json_and_never_changes():
    # Stored fingerprints must match the next version's, or every retry after an upgrade would be refused.
    canonical = '{"body":{"vms":[{"item_id":"x","target_disk_type":null}]},"dry_run":false}'
    golden = "c015c0db004cf4331fcf41a40714c5ea6af27b5074bb5162d9b0f9755b5aff67"
    assert hashlib.sha256(canonical.encode()).hexdigest() == golden
    assert fingerprint({"dry_run": False, "body": {"vms": [{"target_disk_type": None, "item_id": "x"}]}}) == golden
    assert fingerprint({"body": {"vms": [{"item_id": "x", "target_disk_type": None}]}, "dry_run": False}) == golden


@pytest.mark.parametrize("key", ["a", "!", "~", "!" * 255, "~" * 255, "7c1e9a52-4b1f-4c0e-9d4a-0c2d9c7f3a11"])
def test_keys_of_1_to_255_visible_ascii_characters_are_accepted(key):
    assert check_key(key) == key


@pytest.mark.parametrize(
    "key",
    ["", "x" * 256, "has space", " ", "tab\there", "del\x7f", "\x1f", "caf\u00e9", "\u00a0"],
)
def test_other_keys_are_refused(key):
    with pytest.raises(InvalidRequest) as refused:
        check_key(key)
    assert (refused.value.code, refused.value.message) == ("invalid_idempotency_key", INVALID_KEY)


def test_the_first_call_claims_the_key_until_its_lock_and_ttl_run_out(sessions):
    claimed = claim(sessions)
    assert isinstance(claimed, Claim)
    assert (claimed.owner, claimed.key) == (OWNER, "k-1")
    assert len(claimed.token) == 32
    stored = row(sessions)
    assert (stored.fingerprint, stored.status, stored.claim_token) == (DIGEST, PROCESSING, claimed.token)
    assert (stored.created_at, stored.locked_until, stored.expires_at) == (T0, T0 + LOCK, T0 + TTL)
    assert (stored.response_status, stored.response_headers, stored.response_body) == (None, None, None)


def test_two_claims_never_share_a_token(sessions):
    assert claim(sessions, "k-1").token != claim(sessions, "k-2").token


def test_a_call_in_flight_is_refused_until_the_last_microsecond_of_its_lock(sessions):
    claim(sessions)
    for now in (T0, T0 + LOCK - TICK):
        with pytest.raises(Conflict) as refused:
            claim(sessions, now=now)
        assert (refused.value.code, refused.value.message) == ("idempotency_key_in_use", IN_FLIGHT)
        assert refused.value.details == {"retry_after_seconds": 1}


def test_the_same_key_with_another_body_is_refused_in_flight_and_after_answering(sessions):
    first = claim(sessions)
    with pytest.raises(InvalidRequest) as in_flight:
        claim(sessions, digest=OTHER_DIGEST)
    store_now(sessions, first, ACCEPTED)
    with pytest.raises(InvalidRequest) as answered:
        claim(sessions, digest=OTHER_DIGEST, now=T0 + LOCK)
    for refused in (in_flight, answered):
        assert (refused.value.code, refused.value.message) == ("idempotency_key_reused", REUSED)


def test_an_answer_stored_with_the_work_is_replayed_until_the_key_expires(sessions):
    first = claim(sessions)
    with transaction(sessions) as session:
        store(session, first, ACCEPTED)
    stored = row(sessions)
    assert (stored.status, stored.response_status) == (COMPLETED, 202)
    assert claim(sessions, now=T0 + timedelta(seconds=1)) == ACCEPTED
    assert claim(sessions, now=T0 + TTL) == ACCEPTED  # expires_at itself is still inside the TTL


def test_an_answer_without_headers_replays_with_empty_headers(sessions):
    first = claim(sessions)
    store_now(sessions, first, Answer(status=422, headers={}, body={"code": "prerequisites_failed"}))
    assert claim(sessions, now=T0 + LOCK + LOCK) == Answer(
        status=422, headers={}, body={"code": "prerequisites_failed"}
    )


def test_an_expired_key_is_claimed_anew_even_for_another_body(sessions):
    store_now(sessions, claim(sessions), ACCEPTED)
    later = T0 + TTL + TICK
    again = claim(sessions, digest=OTHER_DIGEST, now=later)
    assert isinstance(again, Claim)
    stored = row(sessions)
    assert (stored.fingerprint, stored.status, stored.claim_token) == (OTHER_DIGEST, PROCESSING, again.token)
    assert (stored.created_at, stored.expires_at) == (later, later + TTL)


def test_a_claim_touches_no_other_key_and_no_other_callers_key(sessions):
    store_now(sessions, claim(sessions, "k-1", owner="key:other"), ACCEPTED)  # expired by the time of the next call
    store_now(sessions, claim(sessions, "k-2"), ACCEPTED)  # the same caller's other key, expired too
    claim(sessions, "k-1", now=T0 + TTL + TICK)
    assert keys(sessions) == {("key:other", "k-1"), (OWNER, "k-1"), (OWNER, "k-2")}


def test_a_claim_whose_caller_died_is_taken_over_once_its_lock_runs_out(sessions):
    dead = claim(sessions)
    later = T0 + LOCK
    taker = claim(sessions, now=later)
    assert isinstance(taker, Claim)
    assert (taker.owner, taker.key) == (OWNER, "k-1")
    assert taker.token != dead.token
    stored = row(sessions)
    assert (stored.status, stored.claim_token, stored.locked_until) == (PROCESSING, taker.token, later + LOCK)
    assert stored.expires_at == T0 + TTL  # a takeover does not extend the key's life
    with pytest.raises(Conflict) as refused:
        claim(sessions, now=later + LOCK - TICK)  # the new lock holds off a third call
    assert refused.value.message == IN_FLIGHT


def test_a_call_that_was_taken_over_can_no_longer_answer(sessions):
    dead = claim(sessions)
    taker = claim(sessions, now=T0 + LOCK)
    with pytest.raises(Conflict) as refused, transaction(sessions) as session:
        store(session, dead, ACCEPTED)
    assert (refused.value.code, refused.value.message) == ("idempotency_key_in_use", OVERRAN)
    store_now(sessions, dead, Answer(status=422, headers={}, body={"stale": True}))  # silently ignored
    assert row(sessions).status == PROCESSING
    store_now(sessions, taker, ACCEPTED)
    assert claim(sessions, now=T0 + LOCK + LOCK) == ACCEPTED


def test_an_answer_is_recorded_only_if_the_callers_work_commits(sessions):
    first = claim(sessions)

    def work_that_fails() -> None:
        with transaction(sessions) as session:
            store(session, first, ACCEPTED)
            raise RuntimeError("the jobs could not be written")

    with pytest.raises(RuntimeError):
        work_that_fails()
    assert row(sessions).status == PROCESSING


def test_an_answer_is_recorded_once(sessions):
    first = claim(sessions)
    store_now(sessions, first, ACCEPTED)
    with pytest.raises(Conflict) as refused, transaction(sessions) as session:
        store(session, first, Answer(status=500, headers={}, body=None))
    assert refused.value.message == OVERRAN
    assert claim(sessions, now=T0 + LOCK) == ACCEPTED


def test_a_released_key_can_be_claimed_again_at_once_even_for_another_body(sessions):
    first = claim(sessions)
    release(sessions, first)
    assert row(sessions) is None
    assert isinstance(claim(sessions, digest=OTHER_DIGEST), Claim)


def test_releasing_touches_only_the_callers_own_unanswered_claim(sessions):
    answered = claim(sessions, "answered")
    store_now(sessions, answered, ACCEPTED)
    release(sessions, answered)  # too late: the answer stays
    assert claim(sessions, "answered", now=T0 + LOCK) == ACCEPTED

    dead = claim(sessions, "taken")
    taker = claim(sessions, "taken", now=T0 + LOCK)
    release(sessions, dead)  # a stale claim releases nothing
    assert row(sessions, "taken").claim_token == taker.token

    mine = claim(sessions, "shared")
    theirs = claim(sessions, "shared", owner="key:other")
    release(sessions, mine)
    assert keys(sessions) == {(OWNER, "answered"), (OWNER, "taken"), ("key:other", "shared")}
    assert row(sessions, "shared", owner="key:other").claim_token == theirs.token


def _expiring(sessions, *pairs: tuple[str, str, datetime]) -> None:
    """Keys (owner, key, expires_at), answered."""
    with transaction(sessions) as session:
        session.add_all(
            IdempotencyRecord(
                owner=owner,
                key=key,
                fingerprint=DIGEST,
                status=COMPLETED,
                claim_token="0" * 32,
                response_status=202,
                response_headers={},
                response_body={},
                created_at=expires - TTL,
                locked_until=expires - TTL + LOCK,
                expires_at=expires,
            )
            for owner, key, expires in pairs
        )


def test_the_sweeper_purges_only_keys_past_their_expiry(sessions):
    _expiring(
        sessions,
        (OWNER, "old", T0 - TICK),
        ("key:other", "old-too", T0 - TTL),
        (OWNER, "at-expiry", T0),
        ("key:other", "old", T0 + TICK),  # another caller's same key, still valid
    )
    with transaction(sessions) as session:
        assert purge_expired(session, now=T0) == 2
    assert keys(sessions) == {(OWNER, "at-expiry"), ("key:other", "old")}


def test_the_sweeper_purges_at_most_a_limit_of_keys_per_pass(sessions):
    _expiring(sessions, *((OWNER, f"k-{n}", T0 - TICK) for n in range(5)))
    with transaction(sessions) as session:
        assert purge_expired(session, now=T0, limit=3) == 3
    assert len(keys(sessions)) == 2


def test_one_sweep_purges_at_most_a_thousand_keys(sessions):
    _expiring(sessions, *((OWNER, f"k-{n}", T0 - TICK) for n in range(1001)))
    with transaction(sessions) as session:
        assert purge_expired(session, now=T0) == 1000
    with transaction(sessions) as session:
        assert purge_expired(session, now=T0) == 1
    assert keys(sessions) == set()


def _rival(sessions, *, times: int) -> None:
    """Another first call with the same key that commits its claim between our look and our insert, then releases
    it (its answer was retryable), ``times`` times in a row: our insert hits the unique key each time."""
    left = [times]

    @event.listens_for(sessions, "before_flush")
    def claim_first(session, _context, _instances):
        mine = [o for o in session.new if isinstance(o, IdempotencyRecord)]
        if mine and left[0] > 0:
            left[0] -= 1
            rival = {c.name: getattr(mine[0], c.key) for c in IdempotencyRecord.__mapper__.columns}
            session.connection().execute(insert(IdempotencyRecord), [{**rival, "claim_token": "f" * 32}])


def test_a_key_raced_twice_is_still_claimed_on_the_third_look(sessions):
    _rival(sessions, times=2)
    claimed = claim(sessions)
    assert isinstance(claimed, Claim)
    assert row(sessions).claim_token == claimed.token


def test_a_key_raced_on_every_look_is_refused_as_in_use(sessions):
    _rival(sessions, times=3)
    with pytest.raises(Conflict) as refused:
        claim(sessions)
    assert (refused.value.code, refused.value.message) == (
        "idempotency_key_in_use",
        "This Idempotency-Key is being used by another request.",
    )
    assert row(sessions) is None


def test_the_key_is_read_under_a_row_lock_so_two_takeovers_cannot_both_win(sessions):
    # SQLite serialises writers by itself; on Postgres (production) only the row lock does.
    reads = []

    @event.listens_for(sessions, "do_orm_execute")
    def capture(state):
        if state.is_select:
            reads.append(str(state.statement.compile(dialect=postgresql.dialect())))

    claim(sessions)
    assert any("FROM idempotency_keys" in sql and sql.endswith("FOR UPDATE") for sql in reads), reads
