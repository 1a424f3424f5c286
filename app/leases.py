"""Leased work kept in a table: claim a due row for one worker, let it go, find what is due, back off.

Jobs and webhook deliveries are both rows that a worker claims for a while (a lease), works on with no
transaction open, and records under a check that it still holds them; the sweeper rings for rows that
are due, unleased and not rung for recently, so a lost doorbell or a dead worker only delays work.
The columns differ by table and each caller passes its own retry policy; the rules are these.
"""

from __future__ import annotations

import random
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, and_, or_, select, update
from sqlalchemy.orm import InstrumentedAttribute, Session

# Beyond this many doublings every backoff is at its ceiling anyway; the cap keeps the float finite.
_MAX_DOUBLINGS = 60
# A doorbell rung again and still unanswered doubles the wait before the next one, up to 2^4 = 16 times
# ``redispatch_after``.
_MAX_REDISPATCH_DOUBLINGS = 4


@dataclass(frozen=True)
class Backoff:
    """Exponential backoff with jitter that never comes back sooner than the other side's Retry-After.

    After ``failures`` consecutive failures the wait is ``base · 2^(failures-1)``, capped at ``ceiling``,
    times a random factor drawn from ``jitter``; a Retry-After, when given, is a floor under it, spread by
    ``retry_after_spread`` so that a throttled fleet does not come back in one burst.
    """

    base_seconds: float
    ceiling_seconds: float
    jitter: tuple[float, float] = (0.5, 1.0)
    retry_after_spread: tuple[float, float] = (1.0, 1.0)

    def delay(self, failures: int, *, retry_after: float | None = None) -> float:
        """Seconds to wait before the next try."""
        wait = 0.0
        if failures > 0:
            exponential = self.base_seconds * 2.0 ** min(failures - 1, _MAX_DOUBLINGS)
            wait = min(self.ceiling_seconds, exponential) * random.uniform(*self.jitter)
        if retry_after is not None:
            wait = max(wait, retry_after * random.uniform(*self.retry_after_spread))
        return wait


@dataclass(frozen=True)
class LeasedTable:
    """Where one kind of leased work keeps its scheduling columns, and which of its rows are live."""

    id: InstrumentedAttribute[Any]
    due_at: InstrumentedAttribute[Any]
    lease_owner: InstrumentedAttribute[Any]
    lease_until: InstrumentedAttribute[Any]
    dispatched_at: InstrumentedAttribute[Any]
    unanswered_rings: InstrumentedAttribute[Any]  # sweeper doorbells since a worker last worked on the row
    live: Callable[[], ColumnElement[bool]]  # rows still to be worked on (an active state, a pending status)
    due_when_unset: bool = False  # whether a row without a due time is due at once
    # Extra values written with every claim, by column (a version bump, for tables with optimistic locking).
    claim_values: Callable[[], dict[Any, Any]] = field(default=dict)

    def _due(self, now: datetime) -> ColumnElement[bool]:
        due = self.due_at <= now
        return or_(self.due_at.is_(None), due) if self.due_when_unset else and_(self.due_at.is_not(None), due)

    def _free(self, now: datetime) -> ColumnElement[bool]:
        return or_(self.lease_until.is_(None), self.lease_until < now)

    def _bookkeeping(self, values: dict[Any, Any]) -> dict[Any, Any]:
        """``values`` plus every column the table stamps on update, set to itself: lease and doorbell
        bookkeeping is not a change of the row (its ``updated_at``, and so its ETag, stay as they are)."""
        stamped = {column: column for column in self.id.class_.__table__.columns if column.onupdate is not None}
        return {**stamped, **values}

    def claim(self, session: Session, row_id: uuid.UUID, *, worker: str, now: datetime, lease_seconds: float) -> bool:
        """Take the row's lease for ``worker`` if it is live, due and free; whether it was taken."""
        taken = session.execute(
            update(self.id.class_)
            .where(self.id == row_id, self.live(), self._due(now), self._free(now))
            .values(
                {
                    self.lease_owner: worker,
                    self.lease_until: now + timedelta(seconds=lease_seconds),
                    self.unanswered_rings: 0,  # the doorbell was answered: a lease lost later is re-rung soon
                    **self.claim_values(),
                }
            )
            .execution_options(synchronize_session=False)
        )
        return bool(taken.rowcount == 1)  # type: ignore[attr-defined]

    def write_if_held(
        self,
        session: Session,
        row_id: uuid.UUID,
        values: dict[Any, Any],
        *,
        worker: str,
        now: datetime,
        also: Any = True,
    ) -> bool:
        """Write ``values`` only while ``worker`` still holds a live lease on the row (and ``also`` holds)."""
        written = session.execute(
            update(self.id.class_)
            .where(self.id == row_id, self.lease_owner == worker, self.lease_until > now, also)
            .values(values)
            .execution_options(synchronize_session=False)
        )
        return bool(written.rowcount == 1)  # type: ignore[attr-defined]

    def held_row(self, session: Session, row_id: uuid.UUID, *, worker: str, lock: bool = False) -> Any | None:
        """The live row, loaded to record a step on it, if ``worker`` still holds its lease; None once another
        worker took it over or it ended. The recording write stays guarded: by the row's version (tables with
        optimistic locking) or by the row lock taken here (``lock``)."""
        query = select(self.id.class_).where(self.id == row_id, self.lease_owner == worker, self.live())
        return session.scalars(query.with_for_update() if lock else query).one_or_none()

    def release(self, session: Session, row_id: uuid.UUID, *, worker: str) -> None:
        """Give the lease back without touching anything else, so the row is not held until it expires."""
        session.execute(
            update(self.id.class_)
            .where(self.id == row_id, self.lease_owner == worker)
            .values(
                self._bookkeeping(
                    {
                        self.lease_owner: None,
                        self.lease_until: None,
                        self.dispatched_at: None,
                        self.unanswered_rings: 0,
                    }
                )
            )
            .execution_options(synchronize_session=False)
        )

    def let_go(self, row: Any) -> None:
        """Clear the lease and the doorbell marks on a loaded row being recorded."""
        for column in (self.lease_owner, self.lease_until, self.dispatched_at):
            setattr(row, column.key, None)
        setattr(row, self.unanswered_rings.key, 0)

    def take_due(
        self, session: Session, *, now: datetime, redispatch_after: float, limit: int = 500
    ) -> list[uuid.UUID]:
        """Ids of live rows that are due, free and whose last doorbell may have been lost; marks them rung.

        A doorbell may have been lost once ``redispatch_after`` passed since it rang. Each ring that no worker
        answered with work doubles that wait (to 16 times): when the queue is long the first message is most
        likely still in it, and ringing again on a fixed period would add one message per row per period to
        the very backlog it waits in (650 due jobs behind a slow queue once made 13,586 messages).
        """
        ids = list(
            session.scalars(
                select(self.id)
                .where(self.live(), self._due(now), self._free(now), self.rung_long_ago(now, redispatch_after))
                .order_by(self.due_at.is_(None), self.due_at)
                .limit(limit)
            )
        )
        if ids:
            self.mark_dispatched(session, ids, now=now, unanswered=True)
        return ids

    def rung_long_ago(self, now: datetime, redispatch_after: float) -> ColumnElement[bool]:
        """Never rung, or rung longer ago than ``redispatch_after · 2^(unanswered rings - 1)`` (capped): rows
        whose doorbell the sweeper should ring (again) now."""
        rings = self.unanswered_rings

        def rung_before(doublings: int) -> ColumnElement[bool]:
            return self.dispatched_at < now - timedelta(seconds=redispatch_after * 2**doublings)

        waits = [and_(rings <= 1, rung_before(0))]
        waits += [and_(rings == n + 1, rung_before(n)) for n in range(1, _MAX_REDISPATCH_DOUBLINGS)]
        waits.append(and_(rings > _MAX_REDISPATCH_DOUBLINGS, rung_before(_MAX_REDISPATCH_DOUBLINGS)))
        return or_(self.dispatched_at.is_(None), *waits)

    def mark_dispatched(
        self, session: Session, ids: list[uuid.UUID], *, now: datetime, unanswered: bool = False
    ) -> None:
        """Record that a doorbell was sent, so the sweeper does not ring again until it may have been lost;
        ``unanswered``: the sweeper's ring, counted until a worker answers it (see :meth:`take_due`)."""
        values: dict[Any, Any] = {self.dispatched_at: now}
        if unanswered:
            values[self.unanswered_rings] = self.unanswered_rings + 1
        session.execute(
            update(self.id.class_)
            .where(self.id.in_(ids))
            .values(self._bookkeeping(values))
            .execution_options(synchronize_session=False)
        )

    def forget_dispatch(self, session: Session, *row_ids: uuid.UUID) -> None:
        """A doorbell was answered without work, or never sent: let the sweeper ring again when the row is due."""
        session.execute(
            update(self.id.class_)
            .where(self.id.in_(row_ids))
            .values(self._bookkeeping({self.dispatched_at: None}))
            .execution_options(synchronize_session=False)
        )
