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
import secrets
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import delete, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from app.db import transaction
from app.errors import Conflict, InvalidRequest
from app.idempotency.models import COMPLETED, PROCESSING, IdempotencyRecord
from app.sealed.documents import open_secrets, seal_secrets
from app.sealed.envelope import Place

KEY_PATTERN = r"^[!-~]{1,255}$"  # what check_key accepts: 1-255 visible ASCII characters
REPLAYED_HEADER = "Idempotent-Replayed"


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
    token: str = field(default_factory=lambda: secrets.token_hex(16))


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
                    claim = Claim(owner=owner, key=key)
                    session.add(_claimed(claim, digest, now=now, ttl=ttl, lock=lock))
                    session.flush()
                    return claim
                return _existing(found, digest, now=now, lock=lock)
        except IntegrityError:
            continue  # a concurrent first call inserted it: look again
    raise Conflict("This Idempotency-Key is being used by another request.", code="idempotency_key_in_use")


def _claimed(claim: Claim, digest: str, *, now: datetime, ttl: timedelta, lock: timedelta) -> IdempotencyRecord:
    return IdempotencyRecord(
        owner=claim.owner,
        key=claim.key,
        fingerprint=digest,
        status=PROCESSING,
        claim_token=claim.token,
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
            status=found.response_status,
            headers=dict(found.response_headers or {}),
            body=open_secrets(found.response_body, place=_answer_place(found.owner, found.key)),
        )
    if found.locked_until > now:
        raise Conflict(
            "A request with this Idempotency-Key is still being processed; retry shortly to get its answer.",
            code="idempotency_key_in_use",
            details={"retry_after_seconds": 1},
        )
    # The call that claimed it died (or overran its lock) before answering: take it over. The old call can
    # no longer store its answer (its token is stale), so its work rolls back instead of doubling ours.
    claim = Claim(owner=found.owner, key=found.key)
    found.locked_until = now + lock
    found.claim_token = claim.token
    return claim


def store(session: Session, claim: Claim, answer: Answer) -> None:
    """Record the answer in the caller's transaction (the one that commits the work); refuse if taken over."""
    if not _stored(session, claim, answer):
        raise Conflict(
            "This request overran and a retry with the same Idempotency-Key took over; nothing was recorded "
            "by this call. Retry with the same key to get the answer.",
            code="idempotency_key_in_use",
        )


def store_now(factory: sessionmaker[Session], claim: Claim, answer: Answer) -> None:
    """Record an answer that committed nothing (a refusal) in its own transaction, unless taken over."""
    with transaction(factory) as session:
        _stored(session, claim, answer)


def _answer_place(owner: str, key: str) -> Place:
    """Where an answer's secrets are stored: they open in this row only."""
    return Place(table=IdempotencyRecord.__tablename__, column="response_body", row=(owner, key))


def _stored(session: Session, claim: Claim, answer: Answer) -> bool:
    done = session.execute(
        update(IdempotencyRecord)
        .where(
            IdempotencyRecord.owner == claim.owner,
            IdempotencyRecord.key == claim.key,
            IdempotencyRecord.status == PROCESSING,
            IdempotencyRecord.claim_token == claim.token,
        )
        .values(
            status=COMPLETED,
            response_status=answer.status,
            response_headers=answer.headers,
            # A new callback secret is shown once, never kept in clear: sealed, bound to this key's row.
            response_body=seal_secrets(answer.body, place=_answer_place(claim.owner, claim.key)),
        )
        .execution_options(synchronize_session=False)
    )
    return bool(done.rowcount == 1)  # type: ignore[attr-defined]


def release(factory: sessionmaker[Session], claim: Claim) -> None:
    """Forget the key: the call failed in a way a retry with the same key may fix."""
    with transaction(factory) as session:
        session.execute(
            delete(IdempotencyRecord).where(
                IdempotencyRecord.owner == claim.owner,
                IdempotencyRecord.key == claim.key,
                IdempotencyRecord.status == PROCESSING,
                IdempotencyRecord.claim_token == claim.token,
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
