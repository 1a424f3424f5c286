"""The API as a real uvicorn process on the test database, and an SSE reader in a thread (only a real
server streams: in-process clients buffer whole answers)."""

from __future__ import annotations

import json
import os
import queue
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from cli.stack import free_port

ROOT = Path(__file__).resolve().parents[2]


@contextmanager
def api_process(database_url: str, emulator_url: str, log: Path, **events: str) -> Iterator[ApiProcess]:
    """``uvicorn app.api.app:create_app`` on a free port; stopped with SIGTERM (it must exit by itself)."""
    process = ApiProcess(database_url, emulator_url, log, events)
    process.start()
    try:
        yield process
    finally:
        process.stop()


@dataclass
class ApiProcess:
    database_url: str
    emulator_url: str
    log: Path
    events: dict[str, str]
    port: int = field(default_factory=free_port)
    process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        env = {
            **os.environ,
            "REPROTECT_DATABASE__URL": self.database_url,
            "REPROTECT_BROKER__URL": "memory://",
            "REPROTECT_AZURE__ENDPOINT": self.emulator_url,
            "REPROTECT_EVENTS__POLL_INTERVAL_SECONDS": "0.1",
            "REPROTECT_EVENTS__HEARTBEAT_SECONDS": "0.3",
            "REPROTECT_EVENTS__RECHECK_SECONDS": "0.3",
            **{f"REPROTECT_EVENTS__{k.upper()}": v for k, v in self.events.items()},
        }
        with self.log.open("ab") as out:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "uvicorn", "app.api.app:create_app", "--factory",
                 "--port", str(self.port), "--log-level", "warning"],
                stdout=out, stderr=out, cwd=ROOT, env=env,
            )  # fmt: skip
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            assert self.process.poll() is None, self.log.read_text()
            try:
                if httpx.get(f"{self.url}/healthz", timeout=1).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            time.sleep(0.1)
        raise AssertionError(f"the API did not start:\n{self.log.read_text()}")

    def stop(self) -> int:
        """SIGTERM, as an orchestrator stops it; open streams must not hold the shutdown up."""
        assert self.process is not None
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                return self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
                raise AssertionError(f"the API hung on shutdown with open streams:\n{self.log.read_text()}") from None
        return self.process.returncode


@dataclass
class Event:
    """One parsed server-sent event, or a comment (``kind`` is ``comment``)."""

    kind: str
    id: int | None = None
    data: dict[str, Any] = field(default_factory=dict)
    text: str = ""


class Stream:
    """Reads ``GET /events/jobs`` on a thread; ``next()`` hands out events and comments in arrival order."""

    def __init__(self, url: str, key: str, *, params: dict[str, Any] | None = None, last_event_id: int | None = None):
        headers = {"Authorization": f"Bearer {key}"}
        if last_event_id is not None:
            headers["Last-Event-ID"] = str(last_event_id)
        self.items: queue.Queue[Event | BaseException | None] = queue.Queue()
        self.status: int | None = None
        self.content_type = ""
        self._client = httpx.Client(base_url=url, headers=headers, timeout=httpx.Timeout(30, read=30))
        self._params = params or {}
        self._opened = threading.Event()
        self._thread = threading.Thread(target=self._read, daemon=True)
        self._thread.start()
        assert self._opened.wait(15), "the stream did not open"

    def _read(self) -> None:
        try:
            with self._client.stream("GET", "/events/jobs", params=self._params) as response:
                self.status = response.status_code
                self.content_type = response.headers.get("content-type", "")
                self._opened.set()
                fields: dict[str, str] = {}
                for line in response.iter_lines():
                    if line.startswith(":"):
                        self.items.put(Event("comment", text=line[1:].strip()))
                    elif line == "":
                        if "data" in fields:
                            self.items.put(
                                Event(
                                    fields.get("event", "message"),
                                    int(fields["id"]) if "id" in fields else None,
                                    json.loads(fields["data"]),
                                )
                            )
                        fields = {}
                    else:
                        name, _, value = line.partition(":")
                        fields[name] = value.removeprefix(" ")
            self.items.put(None)  # the server ended the stream
        except BaseException as error:
            self._opened.set()
            self.items.put(error)

    def next(self, timeout: float = 20) -> Event | None:
        """The next event or comment; None when the server closed the stream."""
        item = self.items.get(timeout=timeout)
        if isinstance(item, BaseException):
            raise item
        return item

    def next_event(self, timeout: float = 20) -> Event | None:
        """The next event, skipping comments; None when the stream ended."""
        while True:
            item = self.next(timeout)
            if item is None or item.kind != "comment":
                return item

    def job_events_until(self, done: Any, timeout: float = 30) -> list[Event]:
        """Job events until ``done(event)`` holds (the matching one included)."""
        got: list[Event] = []
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            item = self.next_event(timeout=max(0.1, deadline - time.monotonic()))
            assert item is not None, f"the stream ended after {[e.data for e in got]}"
            got.append(item)
            if done(item):
                return got
        raise AssertionError(f"not done after {timeout}s: {[e.data for e in got]}")

    def quiet_until(self, event_id: int) -> None:
        """Read up to the heartbeat saying every matching event up to ``event_id`` was sent; fails on any
        event before it."""
        while True:
            item = self.next()
            assert item is not None, "the stream ended"
            assert item.kind == "comment", f"unexpected event {item.kind} {item.data}"
            word, _, number = item.text.partition(" ")
            if word == "heartbeat" and int(number) >= event_id:
                return

    def close(self) -> None:
        self._client.close()
