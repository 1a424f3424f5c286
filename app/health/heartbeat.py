"""This process's heartbeat: a daemon thread refreshes its row in ``process_heartbeats`` every few seconds
and deletes it on a clean stop; a process killed outright leaves a row that goes stale. At the same pace another
thread touches a local file (``HealthSettings.beat_file``), whether or not the row can be written: the container's
liveness check reads that file, so a database outage shows on ``/status`` and does not get every worker
restarted (a restart cannot bring the database back).

The table lives in the job database on purpose: the embedded default has no Redis, the database is the one
store every process already needs, and a worker that cannot reach it cannot do any work either.
"""

from __future__ import annotations

import hashlib
import logging
import os
import socket
import threading
import uuid
from datetime import datetime, timedelta
from pathlib import Path

from sqlalchemy import Engine, delete, insert, update
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError

from app.db import build_engine, utcnow
from app.health.models import ProcessHeartbeat

log = logging.getLogger(__name__)
FORGET_AFTER = timedelta(days=1)  # rows of processes gone this long are deleted by the next to start


def broker_fingerprint(broker_url: str) -> str:
    """Which broker a process uses, comparable across processes without storing its URL (nor password)."""
    try:
        shown = make_url(broker_url).render_as_string(hide_password=True) if "://" in broker_url else broker_url
    except ArgumentError:
        shown = broker_url.split("@")[-1]
    return hashlib.sha256(shown.encode()).hexdigest()[:16]


class Heartbeat:
    """Beats for one process of ``kind`` (worker, scheduler) until :meth:`stop`."""

    def __init__(
        self,
        database_url: str,
        *,
        kind: str,
        interval_seconds: float,
        broker_url: str | None = None,
        beat_file: Path | None = None,
    ) -> None:
        self.kind = kind
        self.beat_file = beat_file
        self.broker = broker_fingerprint(broker_url) if broker_url is not None else None
        self.interval = interval_seconds
        self.started_at = utcnow()
        self.id = f"{kind}:{socket.gethostname()[:100]}:{os.getpid()}:{uuid.uuid4().hex[:12]}"
        self._url = database_url
        self._engine: Engine | None = None
        self._stopped = threading.Event()
        self._thread: threading.Thread | None = None
        self._file_thread: threading.Thread | None = None

    def start(self) -> None:
        """Beat now, then every ``interval`` seconds in a daemon thread; touch the beat file in another, so a
        database that hangs (not only one that refuses) never stops it."""
        if self.beat_file is not None:
            self._touch()
            self._file_thread = threading.Thread(target=self._touch_on, name=f"beat-file-{self.kind}", daemon=True)
            self._file_thread.start()
        self._engine = build_engine(self._url, pool_size=1)
        self._forget_long_gone()
        self.beat()
        self._thread = threading.Thread(target=self._run, name=f"heartbeat-{self.kind}", daemon=True)
        self._thread.start()
        log.info("%s heartbeat started (%s, every %.0f s)", self.kind, self.id, self.interval)

    def beat(self, now: datetime | None = None) -> None:
        """Write this process's row (best effort: a database hiccup only ages it)."""
        if self._engine is None:
            return
        now = now or utcnow()
        try:
            with self._engine.begin() as connection:
                found = connection.execute(
                    update(ProcessHeartbeat).where(ProcessHeartbeat.id == self.id).values(seen_at=now)
                ).rowcount
                if not found:
                    connection.execute(
                        insert(ProcessHeartbeat).values(
                            id=self.id,
                            kind=self.kind,
                            host=socket.gethostname(),
                            pid=os.getpid(),
                            started_at=self.started_at,
                            seen_at=now,
                            broker=self.broker,
                        )
                    )
        except Exception as exc:
            log.warning("%s heartbeat not written: %s", self.kind, exc)

    def _touch_on(self) -> None:
        while not self._stopped.wait(self.interval):
            self._touch()

    def _touch(self) -> None:
        if self.beat_file is None:
            return
        try:
            self.beat_file.parent.mkdir(parents=True, exist_ok=True)
            self.beat_file.touch()
        except OSError as exc:
            log.warning("%s beat file %s not touched: %s", self.kind, self.beat_file, exc)

    def stop(self) -> None:
        """Stop beating and delete the row and the beat file: a clean stop is not a crash."""
        self._stopped.set()
        for thread in (self._thread, self._file_thread):
            if thread is not None:
                thread.join(timeout=self.interval + 5)
        if self.beat_file is not None:
            self.beat_file.unlink(missing_ok=True)
        if self._engine is None:
            return
        try:
            with self._engine.begin() as connection:
                connection.execute(delete(ProcessHeartbeat).where(ProcessHeartbeat.id == self.id))
        except Exception as exc:
            log.warning("%s heartbeat row not removed: %s", self.kind, exc)
        finally:
            self._engine.dispose()
            self._engine = None

    def _run(self) -> None:
        while not self._stopped.wait(self.interval):
            self.beat()

    def _forget_long_gone(self) -> None:
        assert self._engine is not None
        try:
            with self._engine.begin() as connection:
                connection.execute(delete(ProcessHeartbeat).where(ProcessHeartbeat.seen_at < utcnow() - FORGET_AFTER))
        except Exception as exc:
            log.warning("old heartbeat rows not purged: %s", exc)
