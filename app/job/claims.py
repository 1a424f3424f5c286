"""Rows of ``cache_account_claims``: one per new cache storage account, so one job creates it whatever
number of workers need it at the same time (``app.job.service`` runs each in its own transaction).

The row's primary key decides who inserts first; taking over a row is a compare-and-set update (the
holder renewing, or a lease that ran out), so two jobs never both hold it.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any, Literal, cast

from sqlalchemy import CursorResult, delete, or_, select, update
from sqlalchemy.orm import Session

from app.job.cache_accounts import Claim
from app.job.models import CacheAccountClaim

# Longer than a creator's looks are apart; a creator that died lets another job take over after this.
CLAIM_LEASE = timedelta(seconds=120)
ClaimState = Literal["creating", "requested", "ready"]


def insert(session: Session, *, key: str, account_id: str, owner: str, now: datetime) -> Claim:
    """A new claim held by ``owner`` (the commit raises ``IntegrityError`` when the key is taken)."""
    session.add(
        CacheAccountClaim(
            key=key,
            account_id=account_id,
            state="creating",
            owner=owner,
            lease_until=now + CLAIM_LEASE,
            created_at=now,
            updated_at=now,
        )
    )
    return Claim(account_id=account_id, state="creating", mine=True)


def take(session: Session, *, key: str, account_id: str, owner: str, now: datetime) -> Claim:
    """The existing claim, made ``owner``'s if ``owner`` holds it already or its lease ran out."""
    result = session.execute(
        update(CacheAccountClaim)
        .where(
            CacheAccountClaim.key == key,
            CacheAccountClaim.state != "ready",
            or_(CacheAccountClaim.owner == owner, CacheAccountClaim.lease_until < now),
        )
        .values(owner=owner, lease_until=now + CLAIM_LEASE, updated_at=now)
        .execution_options(synchronize_session=False)
    )
    taken = cast(CursorResult[Any], result).rowcount
    row = session.scalars(select(CacheAccountClaim).where(CacheAccountClaim.key == key)).one_or_none()
    if row is None:  # released meanwhile: the next look claims it anew
        return Claim(account_id=account_id, state="creating", mine=False)
    state: ClaimState = row.state  # type: ignore[assignment]
    age = (now - row.created_at).total_seconds()
    return Claim(account_id=row.account_id, state=state, mine=bool(taken) and state != "ready", age_seconds=age)


def record(session: Session, *, key: str, owner: str, account_id: str, state: ClaimState, now: datetime) -> None:
    """Progress on a claim, only while ``owner`` holds it."""
    session.execute(
        update(CacheAccountClaim)
        .where(CacheAccountClaim.key == key, CacheAccountClaim.owner == owner)
        .values(account_id=account_id, state=state, lease_until=now + CLAIM_LEASE, updated_at=now)
        .execution_options(synchronize_session=False)
    )


def release(session: Session, *, key: str, owner: str) -> None:
    """Drop ``owner``'s unfinished claim so another job may try (a ready one stays)."""
    session.execute(
        delete(CacheAccountClaim)
        .where(CacheAccountClaim.key == key, CacheAccountClaim.owner == owner, CacheAccountClaim.state != "ready")
        .execution_options(synchronize_session=False)
    )


def forget(session: Session, *, key: str, account_id: str) -> None:
    """Drop a ready claim whose account was deleted since, so the next job to need it creates it again."""
    session.execute(
        delete(CacheAccountClaim)
        .where(
            CacheAccountClaim.key == key, CacheAccountClaim.account_id == account_id, CacheAccountClaim.state == "ready"
        )
        .execution_options(synchronize_session=False)
    )
