"""``Idempotency-Key`` for ``POST /reprotect`` (IETF draft semantics, as Stripe does it).

The first call with a key claims it (a row in ``idempotency_keys``) and its answer is stored in the
same transaction that accepts the jobs, so an API process dying right after the commit still has the
answer to replay. The same key with the same body replays that answer (status, headers, body) for
``ttl``; with a different body it is refused (422); while the first call is still running, 409.
Answers the caller may fix by retrying (5xx, 503 Azure/database unavailable) release the key.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import JSON, Integer, String, delete, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Mapped, Session, mapped_column, sessionmaker

from app.db import Base, UtcDateTime, transaction
from app.errors import Conflict, InvalidRequest

PROCESSING, COMPLETED = "processing", "completed"
REPLAYED_HEADER = "Idempotent-Replayed"


class IdempotencyRecord(Base):
    """One key of one caller: the request's fingerprint and, once answered, the answer."""

    __tablename__ = "idempotency_keys"

    owner: Mapped[str] = mapped_column(String(200), primary_key=True)
    key: Mapped[str] = mapped_column(String(255), primary_key=True)
    fingerprint: Mapped[str] = mapped_column(String(64))
    status: Mapped[str] = mapped_column(String(20))
    response_status: Mapped[int | None] = mapped_column(Integer)
    response_headers: Mapped[dict[str, str] | None] = mapped_column(JSON)
    response_body: Mapped[Any] = mapped_column(JSON, nullable=True)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
    locked_until: Mapped[datetime] = mapped_column(UtcDateTime)
    expires_at: Mapped[datetime] = mapped_column(UtcDateTime, index=True)


@dataclass(frozen=True)
class Answer:
    """A stored answer to replay."""

    status: int
    headers: dict[str, str]
    body: Any


@dataclass(frozen=True)
class Claim:
    """The key this call owns until it stores an answer or releases it."""

    owner: str
    key: str


def fingerprint(payload: Any) -> str:
    """A stable digest of the request: canonical JSON, so whitespace and key order do not matter."""
    return hashlib.sha256(json.dumps(payload, sort_keys=True, separators=(",", ":")).encode()).hexdigest()


def check_key(key: str) -> str:
    """The key if usable: 1-255 visible ASCII characters."""
    if not 1 <= len(key) <= 255 or not all(33 <= ord(c) <= 126 for c in key):
        raise InvalidRequest(
            "Idempotency-Key must be 1-255 visible ASCII characters (a UUID is a good choice).",
            code="invalid_idempotency_key",
        )
    return key


def begin(
    factory: sessionmaker[Session],
    *,
    owner: str,
    key: str,
    digest: str,
    now: datetime,
    ttl: timedelta,
    lock: timedelta,
) -> Claim | Answer:
    """Claim ``key`` for this call, or return the answer to replay; refuse a reuse or a call in flight."""
    for _ in range(3):
        try:
            with transaction(factory) as session:
                session.execute(
                    delete(IdempotencyRecord).where(
                        IdempotencyRecord.owner == owner,
                        IdempotencyRecord.key == key,
                        IdempotencyRecord.expires_at < now,
                    )
                )
                found = session.get(IdempotencyRecord, (owner, key), with_for_update=True)
                if found is None:
                    session.add(_claimed(owner, key, digest, now=now, ttl=ttl, lock=lock))
                    session.flush()
                    return Claim(owner=owner, key=key)
                return _existing(found, digest, now=now, lock=lock)
        except IntegrityError:
            continue  # a concurrent first call inserted it: look again
    raise Conflict("This Idempotency-Key is being used by another request.", code="idempotency_key_in_use")


def _claimed(owner: str, key: str, digest: str, *, now: datetime, ttl: timedelta, lock: timedelta) -> IdempotencyRecord:
    return IdempotencyRecord(
        owner=owner,
        key=key,
        fingerprint=digest,
        status=PROCESSING,
        created_at=now,
        locked_until=now + lock,
        expires_at=now + ttl,
    )


def _existing(found: IdempotencyRecord, digest: str, *, now: datetime, lock: timedelta) -> Claim | Answer:
    if found.fingerprint != digest:
        raise InvalidRequest(
            "This Idempotency-Key was used with a different request body; use a new key for a new request.",
            code="idempotency_key_reused",
        )
    if found.status == COMPLETED and found.response_status is not None:
        return Answer(
            status=found.response_status, headers=dict(found.response_headers or {}), body=found.response_body
        )
    if found.locked_until > now:
        raise Conflict(
            "A request with this Idempotency-Key is still being processed; retry shortly to get its answer.",
            code="idempotency_key_in_use",
            details={"retry_after_seconds": 1},
        )
    # The call that claimed it died before answering (nothing was committed with it): take it over.
    found.locked_until = now + lock
    return Claim(owner=found.owner, key=found.key)


def store(session: Session, claim: Claim, answer: Answer) -> None:
    """Record the answer in the caller's transaction (the one that commits the work)."""
    record = session.get_one(IdempotencyRecord, (claim.owner, claim.key))
    record.status = COMPLETED
    record.response_status = answer.status
    record.response_headers = answer.headers
    record.response_body = answer.body


def store_now(factory: sessionmaker[Session], claim: Claim, answer: Answer) -> None:
    """Record an answer that committed nothing (a refusal) in its own transaction."""
    with transaction(factory) as session:
        store(session, claim, answer)


def release(factory: sessionmaker[Session], claim: Claim) -> None:
    """Forget the key: the call failed in a way a retry with the same key may fix."""
    with transaction(factory) as session:
        session.execute(
            delete(IdempotencyRecord).where(
                IdempotencyRecord.owner == claim.owner,
                IdempotencyRecord.key == claim.key,
                IdempotencyRecord.status == PROCESSING,
            )
        )


def purge_expired(session: Session, *, now: datetime, limit: int = 1000) -> int:
    """Delete up to ``limit`` expired keys; the sweeper calls this."""
    expired = list(
        session.execute(
            select(IdempotencyRecord.owner, IdempotencyRecord.key)
            .where(IdempotencyRecord.expires_at < now)
            .limit(limit)
        )
    )
    for owner, key in expired:
        session.execute(delete(IdempotencyRecord).where(IdempotencyRecord.owner == owner, IdempotencyRecord.key == key))
    return len(expired)
