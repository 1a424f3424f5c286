"""One poller per API process: reads new transitions every few hundred milliseconds and fans them out
in memory to every subscriber whose filter and scopes match, through bounded per-subscriber buffers.

Ids come from a sequence, so a transaction that drew a lower id may commit after a higher one: the hub
never delivers past a missing id until it appears or ``gap_grace_seconds`` pass (a rolled-back insert
leaves a permanent hole). Every process polls the database itself, so any number of API processes
see every change, and a restart loses nothing a client cannot replay by id. A poller (re)starts below the
lowest young hole among the newest ids, so a transaction that commits just after the start is still sent.

Revocations heard over Redis (``app.auth.revocation``) move an epoch; the poller watches it and has every
open stream check its credential again at once. Streams are capped per caller and per process.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import deque
from collections.abc import Callable, Sequence
from datetime import datetime, timedelta
from itertools import pairwise

from sqlalchemy.orm import Session, sessionmaker

from app.db import transaction, utcnow
from app.errors import RateLimited, ServiceError
from app.events import log
from app.events.model import JobEvent
from app.settings import EventSettings

logger = logging.getLogger(__name__)

_UNCLAIMED_SECONDS = 30.0  # a subscription whose response never started streaming (client gone) is dropped
_UNSET = object()


class TooManyStreams(RateLimited):
    """The caller already has as many open streams as it may (429)."""

    code = "too_many_streams"


class StreamsExhausted(ServiceError):
    """This API process serves as many streams as it may (503: another process, or later)."""

    code = "streams_exhausted"

    def __init__(self, message: str, *, retry_after: float):
        super().__init__(message)
        self.retry_after = retry_after


def start_point(tail: Sequence[tuple[int, datetime]], latest: int, *, now: datetime, grace_seconds: float) -> int:
    """Where a (re)started poller begins: below the lowest hole among ``tail`` (the newest ids, oldest first,
    with their times) that has a row younger than the grace above it, else at ``latest``. Such a hole may
    be a transaction that drew its id before the newest ones and commits after the start."""
    young = now - timedelta(seconds=grace_seconds)
    for (lower, _), (upper, at) in pairwise(tail):
        if upper > lower + 1 and at >= young:
            return lower
    return latest


class Subscriber:
    """One open stream's buffer: matching events, newest last, plus why the stream must end (if it must).

    No timer per stream: the hub's one clock sets ``beat`` (time for a heartbeat) and ends streams that
    reached their lifetime, so a wake-up costs one ``Event`` however many streams are open.
    """

    def __init__(self, matches: Callable[[JobEvent], bool], *, capacity: int, start: int, now: float, owner: str = ""):
        self.matches = matches
        self.owner = owner  # the principal's id, for the per-caller cap
        self.started = False  # its response began streaming (else it is dropped after a while)
        self.recheck = False  # a revocation was heard: check the credential at the next wake-up
        self.capacity = capacity
        self.start = start  # the hub's watermark at subscription: later events arrive here, earlier ones are replayed
        self.events: deque[JobEvent] = deque()
        self.ready = asyncio.Event()
        self.beat = False
        self.born = now
        self.next_beat = now
        self.ending: str | None = None  # subscriber_too_slow | server_shutting_down | stream_lifetime

    @property
    def overflowed(self) -> bool:
        """Whether it fell too far behind (its stream ends; the client resumes by replay)."""
        return self.ending == "subscriber_too_slow"

    def offer(self, event: JobEvent) -> bool:
        """Buffer ``event``; False (and the stream ends) when the buffer is full."""
        if len(self.events) >= self.capacity:
            self.end("subscriber_too_slow")
            return False
        self.events.append(event)
        self.ready.set()
        return True

    def end(self, reason: str) -> None:
        """End the stream at its next wake-up, saying why."""
        self.ending = self.ending or reason
        self.ready.set()

    def take(self) -> list[JobEvent]:
        """Everything buffered, oldest first."""
        taken = list(self.events)
        self.events.clear()
        self.ready.clear()
        return taken


class Hub:
    """The process's shared poller and its subscribers."""

    def __init__(self, sessions: sessionmaker[Session], settings: EventSettings):
        self.sessions = sessions
        self.settings = settings
        self.watermark = 0  # every id up to here has been delivered or given up on
        self.subscribers: set[Subscriber] = set()
        self._gap_since: dict[int, float] = {}
        self._clock_task: asyncio.Task[None] | None = None
        self._poller: asyncio.Task[None] | None = None
        self._starting = asyncio.Lock()
        self.closing = False
        # The auth layer's revocation epoch (None: not heard, or no Redis); set by the first stream's route.
        self.revocation_epoch: Callable[[], int | None] | None = None
        self._epoch_seen: object = _UNSET

    async def start(self) -> None:
        """Start the heartbeat clock; the poller runs only while someone subscribes (no idle reads)."""
        self._clock_task = asyncio.create_task(self._clock(), name="job-event-heartbeats")

    def close_streams(self) -> None:
        """Tell every open stream to end (graceful shutdown: the server waits for them)."""
        self.closing = True
        for subscriber in list(self.subscribers):
            subscriber.end("server_shutting_down")

    async def stop(self) -> None:
        """End every stream and the poller."""
        self.close_streams()
        for task in (self._poller, self._clock_task):
            if task is not None:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
        self._poller = self._clock_task = None

    async def subscribe(self, matches: Callable[[JobEvent], bool], owner: str = "") -> Subscriber:
        """A new subscriber receiving every matching event after the watermark; starts the poller (at
        :func:`start_point`) when it is not running (older events are only ever replayed on request).
        Refuses a caller at its cap of open streams, or when the process is at its own."""
        self.admit(owner)
        async with self._starting:
            if self._poller is None or self._poller.done():
                self.watermark = await asyncio.to_thread(self._start_point)
                self._gap_since.clear()
                self._poller = asyncio.create_task(self._run(), name="job-event-poller")
            self.admit(owner)  # again: others may have subscribed while this one waited
            return self.attach(matches, owner)

    def admit(self, owner: str) -> None:
        """Raise when one more stream for ``owner`` would pass a cap."""
        retry = self.settings.heartbeat_seconds
        if len(self.subscribers) >= self.settings.max_streams_per_process:
            raise StreamsExhausted("This API process serves as many event streams as it may.", retry_after=retry)
        cap = self.settings.max_streams_per_principal
        if sum(1 for s in self.subscribers if s.owner == owner) >= cap:
            raise TooManyStreams(f"At most {cap} event streams may be open per caller.", retry_after=retry)

    def attach(self, matches: Callable[[JobEvent], bool], owner: str = "") -> Subscriber:
        """Register a subscriber at the current watermark (the poller must be running)."""
        now = asyncio.get_running_loop().time()
        subscriber = Subscriber(
            matches, capacity=self.settings.subscriber_queue_size, start=self.watermark, now=now, owner=owner
        )
        subscriber.next_beat = now + self.settings.heartbeat_seconds
        if self.closing:
            subscriber.end("server_shutting_down")
        self.subscribers.add(subscriber)
        return subscriber

    def unsubscribe(self, subscriber: Subscriber) -> None:
        """Forget a stream that ended."""
        self.subscribers.discard(subscriber)

    async def _run(self) -> None:
        while self.subscribers:  # the last stream gone, the poller ends; the next subscriber starts another
            try:
                full = await self.poll_once()
            except Exception:
                logger.exception("the job event poller could not read the transition log; trying again")
                full = False
            self.note_revocations()
            if not full:
                await asyncio.sleep(self.settings.poll_interval_seconds)

    def note_revocations(self) -> None:
        """When the revocation epoch moved (a key revoked anywhere, or the channel reconnected), have every
        open stream check its credential at its next wake-up."""
        if self.revocation_epoch is None:
            return
        epoch = self.revocation_epoch()
        if epoch == self._epoch_seen:
            return
        first, self._epoch_seen = self._epoch_seen is _UNSET, epoch
        if first:
            return
        for subscriber in list(self.subscribers):
            subscriber.recheck = True
            subscriber.ready.set()

    async def _clock(self) -> None:
        """Heartbeats and stream lifetimes for every subscriber, from one timer."""
        heartbeat, lifetime = self.settings.heartbeat_seconds, self.settings.max_stream_seconds
        tick = min(heartbeat, lifetime) if lifetime else heartbeat
        loop = asyncio.get_running_loop()
        while True:
            await asyncio.sleep(tick)
            now = loop.time()
            for subscriber in list(self.subscribers):
                if not subscriber.started and now >= subscriber.born + _UNCLAIMED_SECONDS:
                    self.subscribers.discard(subscriber)
                elif lifetime and now >= subscriber.born + lifetime:
                    subscriber.end("stream_lifetime")
                elif now >= subscriber.next_beat:
                    subscriber.next_beat = now + heartbeat
                    subscriber.beat = True
                    subscriber.ready.set()

    async def poll_once(self) -> bool:
        """Read and fan out one page after the watermark; True when the page was full (read again at once)."""
        limit = self.settings.poll_page_size
        events = await asyncio.to_thread(self._read, self.watermark, limit)
        self.fan_out(self.deliverable(events, now=time.monotonic()))
        return len(events) >= limit

    def deliverable(self, events: list[JobEvent], *, now: float) -> list[JobEvent]:
        """The leading run of ``events`` with no missing id before it (holes older than the grace are skipped)."""
        out: list[JobEvent] = []
        expected = self.watermark + 1
        for event in events:
            if event.id != expected:
                first_seen = self._gap_since.setdefault(expected, now)
                if now - first_seen < self.settings.gap_grace_seconds:
                    break
                logger.warning("transition ids %d..%d never committed: streams skip them", expected, event.id - 1)
                del self._gap_since[expected]
            out.append(event)
            self.watermark = event.id
            expected = event.id + 1
        for stale in [gap for gap in self._gap_since if gap <= self.watermark]:
            del self._gap_since[stale]
        return out

    def fan_out(self, events: list[JobEvent]) -> None:
        """Hand each event to every subscriber that matches it; drop subscribers that fell behind."""
        if not events:
            return
        for subscriber in list(self.subscribers):
            if subscriber.ending:
                continue
            matches = subscriber.matches
            for event in events:
                if matches(event) and not subscriber.offer(event):
                    self.subscribers.discard(subscriber)
                    break

    def _start_point(self) -> int:
        with transaction(self.sessions) as session:
            latest = log.latest_id(session)
            tail = log.tail(session, limit=self.settings.poll_page_size)
        return start_point(tail, latest, now=utcnow(), grace_seconds=self.settings.gap_grace_seconds)

    def _read(self, after: int, limit: int) -> list[JobEvent]:
        with transaction(self.sessions) as session:
            return log.read_after(session, after, limit=limit)
