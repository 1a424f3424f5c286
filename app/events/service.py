"""The stream use case: check where a client resumes from, then replay from the log and follow the hub."""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import AsyncIterator, Callable

from sqlalchemy.orm import Session, sessionmaker

from app.auth.authenticator import Authenticator
from app.auth.principal import Principal, Role
from app.db import transaction
from app.errors import InvalidRequest, ServiceError
from app.events import log
from app.events.filter import EventFilter, Matcher
from app.events.hub import Hub, Subscriber
from app.events.model import JobEvent, sse_comment, sse_frame

_EVENT_ID = re.compile(r"^[0-9]{1,18}$")
logger = logging.getLogger(__name__)


def resume_point(header: str | None, query: int | None) -> int | None:
    """Where the client left off: the ``Last-Event-ID`` header (a browser's reconnect sends it) over the query."""
    if header is None or header.strip() == "":
        return query
    text = header.strip()
    if not _EVENT_ID.match(text):
        raise InvalidRequest(
            "Last-Event-ID must be the id of an event this stream sent (a non-negative integer).",
            code="invalid_last_event_id",
        )
    return int(text)


def credential_check(auth: Authenticator, credential: str | None, principal: Principal) -> Callable[[], bool]:
    """Whether ``credential`` still stands for a reader with the same scopes (revoked, expired: no); the
    check spends none of the caller's rate budget (it is not a request)."""

    def still_allowed() -> bool:
        try:
            again = auth.identify(credential)
        except ServiceError:
            return False
        except Exception:  # the database or the key set briefly unreachable: not a reason to cut the stream
            logger.warning("could not check a stream's credential again; keeping it open", exc_info=True)
            return True
        return again.can(Role.READER) and again.scopes == principal.scopes

    return still_allowed


async def open_stream(
    hub: Hub,
    sessions: sessionmaker[Session],
    *,
    principal: Principal,
    where: EventFilter,
    after: int | None,
    still_allowed: Callable[[], bool],
) -> AsyncIterator[bytes]:
    """The caller's stream of job changes after ``after`` (None: from now); refuses a resume it cannot serve
    and a caller (or process) at its cap of open streams."""
    if after is not None:
        latest = await asyncio.to_thread(_latest, sessions)
        if after > latest:
            raise InvalidRequest(
                f"Event {after} does not exist (the newest is {latest}): subscribe without Last-Event-ID.",
                code="last_event_id_unknown",
            )
        depth = hub.settings.max_replay_events
        if latest - after > depth:
            raise InvalidRequest(
                f"Event {after} is more than {depth} changes old: reload the jobs with GET /jobs, then subscribe "
                "without Last-Event-ID.",
                code="last_event_id_too_old",
                details={"latest_event_id": latest, "max_replay_events": depth},
            )
    matches = Matcher(where, principal.scopes)
    subscriber = await hub.subscribe(matches, principal.id)  # first, so nothing committed during the replay is missed
    return _frames(hub, sessions, subscriber, matches, after, still_allowed)


async def _frames(
    hub: Hub,
    sessions: sessionmaker[Session],
    subscriber: Subscriber,
    matches: Matcher,
    after: int | None,
    still_allowed: Callable[[], bool],
) -> AsyncIterator[bytes]:
    subscriber.started = True
    try:
        yield b"retry: 2000\n" + sse_comment(f"stream open at event {subscriber.start}")
        sent = subscriber.start if after is None else max(after, subscriber.start)
        if after is not None and after < subscriber.start:
            async for frame in _replay(hub, sessions, matches, after, subscriber.start):
                yield frame
        async for frame in _live(hub, subscriber, sent, still_allowed):
            yield frame
    finally:
        hub.unsubscribe(subscriber)


async def _replay(
    hub: Hub, sessions: sessionmaker[Session], matches: Matcher, after: int, upto: int
) -> AsyncIterator[bytes]:
    """Matching events with ``after < id <= upto`` from the database, in pages."""
    cursor = after
    while cursor < upto:
        page = await asyncio.to_thread(_read, sessions, cursor, hub.settings.poll_page_size, upto)
        if not page:
            return
        frames = [event.frame for event in page if matches(event)]
        if frames:
            yield b"".join(frames)
        cursor = page[-1].id


async def _live(hub: Hub, subscriber: Subscriber, sent: int, still_allowed: Callable[[], bool]) -> AsyncIterator[bytes]:
    """Buffered events as they come, heartbeats (``: heartbeat W``: every match up to event W has been
    sent), and an ``event: resume`` when the stream must end."""
    loop = asyncio.get_running_loop()
    next_check = loop.time() + hub.settings.recheck_seconds
    while True:
        await subscriber.ready.wait()
        if subscriber.recheck or (subscriber.beat and loop.time() >= next_check):  # no timer per stream
            subscriber.recheck = False
            next_check = loop.time() + hub.settings.recheck_seconds
            if not await asyncio.to_thread(still_allowed):  # nothing more goes out, not even what is buffered
                yield sse_frame(None, "resume", {"reason": "credentials_changed", "last_event_id": sent})
                return
        watermark = hub.watermark  # read with the buffer: everything up to it has been offered
        frames = []
        for event in subscriber.take():
            if event.id > sent:
                frames.append(event.frame)
                sent = event.id
        if subscriber.beat:
            subscriber.beat = False
            frames.append(sse_comment(f"heartbeat {max(watermark, sent)}"))
        if subscriber.ending:
            frames.append(sse_frame(None, "resume", {"reason": subscriber.ending, "last_event_id": sent}))
            yield b"".join(frames)
            return
        if frames:  # one write for everything since the last wake-up
            yield b"".join(frames)


def _latest(sessions: sessionmaker[Session]) -> int:
    with transaction(sessions) as session:
        return log.latest_id(session)


def _read(sessions: sessionmaker[Session], after: int, limit: int, upto: int) -> list[JobEvent]:
    with transaction(sessions) as session:
        return log.read_after(session, after, limit=limit, upto=upto)
