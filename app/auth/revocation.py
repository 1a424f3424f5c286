"""Revocations heard across API processes at once, over Redis pub/sub: every commit that revoked a key
publishes on one channel; each API process listens in a background thread and moves its local *epoch*.

A cached key lookup (``app.auth.key_cache``) is trusted only while the epoch it was made under is
current, so a key revoked through any process (API or CLI) is refused everywhere as soon as the message
lands (milliseconds), without a Redis round trip per call. While the subscription is down (Redis
unreachable, reconnecting) nothing cached is trusted: keys are read from the database, and a reconnect
moves the epoch (a message may have been missed meanwhile). A publish that fails is logged; the other
processes' entries then still end within the cache's few seconds.
"""

from __future__ import annotations

import contextlib
import logging
import threading
from typing import Any

import redis
from sqlalchemy import event
from sqlalchemy.orm import Session, sessionmaker

log = logging.getLogger(__name__)

CHANNEL = "reprotect:api-keys:revoked"
_PENDING = "revoked_api_keys"


class RedisRevocations:
    """Publishes revocations, and (once :meth:`epoch` is first asked) listens for everyone's."""

    def __init__(self, url: str, *, timeout_seconds: float = 0.5, health_check_seconds: float = 2.0):
        self._redis = redis.Redis.from_url(
            url,
            socket_timeout=timeout_seconds,
            socket_connect_timeout=timeout_seconds,
            health_check_interval=health_check_seconds,
        )
        self._epoch = 0
        self._listening = False
        self._started = False
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def epoch(self) -> int | None:
        """The local epoch, or None while revocations cannot be heard (then trust no cached lookup)."""
        if not self._started:
            self._start()
        return self._epoch if self._listening else None

    def announce(self) -> None:
        """Tell every process that a key was revoked."""
        try:
            self._redis.publish(CHANNEL, b"revoked")
        except redis.RedisError as exc:
            log.warning("cannot announce an API key revocation (%s): other processes' caches expire it", exc)

    def close(self) -> None:
        """Stop listening and release the connections."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=3)
        self._redis.close()

    def _start(self) -> None:
        with self._lock:
            if self._started:
                return
            self._started = True
            self._thread = threading.Thread(target=self._listen, name="api-key-revocations", daemon=True)
            self._thread.start()

    def _listen(self) -> None:
        while not self._stop.is_set():
            pubsub: Any = None
            try:
                pubsub = self._redis.pubsub()  # type: ignore[no-untyped-call]
                pubsub.subscribe(CHANNEL)
                while not self._stop.is_set():
                    message = pubsub.get_message(timeout=0.5)
                    if message is None:
                        continue
                    if message["type"] == "subscribe":
                        self._epoch += 1  # whatever was missed before this point no longer counts
                        self._listening = True
                    elif message["type"] == "message":
                        self._epoch += 1
            except (redis.RedisError, OSError) as exc:
                if self._listening:
                    log.warning("lost the API key revocation channel (%s): keys are read from the database", exc)
                self._listening = False
                self._epoch += 1
                self._stop.wait(1.0)
            finally:
                self._listening = False
                if pubsub is not None:
                    with contextlib.suppress(redis.RedisError, OSError):
                        pubsub.close()


def note(session: Session, key_id: str) -> None:
    """Record in the unit of work that it revokes ``key_id`` (announced once it commits)."""
    session.info.setdefault(_PENDING, []).append(key_id)


def wire(sessions: sessionmaker[Session], revocations: RedisRevocations) -> None:
    """Announce the revocations of every session made by ``sessions`` after their commit."""

    def committed(session: Session) -> None:
        if session.info.pop(_PENDING, None):
            revocations.announce()

    def rolled_back(session: Session, _previous: Any) -> None:
        session.info.pop(_PENDING, None)

    event.listen(sessions, "after_commit", committed)
    event.listen(sessions, "after_soft_rollback", rolled_back)
