"""A real HTTP webhook receiver on loopback: records every request, answers from a script."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass
class Received:
    """One request the receiver got."""

    path: str
    headers: dict[str, str]
    body: bytes
    received_at: float = field(default_factory=time.time)

    @property
    def json(self) -> Any:
        return json.loads(self.body)


@dataclass
class Receiver:
    """Answers with the queued (status, headers) in order, then ``default_status``."""

    url: str
    received: list[Received] = field(default_factory=list)
    script: list[tuple[int, dict[str, str]]] = field(default_factory=list)
    default_status: int = 200
    lock: threading.Lock = field(default_factory=threading.Lock)

    def answer(self, *statuses: int | tuple[int, dict[str, str]]) -> None:
        """Queue the next answers."""
        with self.lock:
            for s in statuses:
                self.script.append(s if isinstance(s, tuple) else (s, {}))

    def next_answer(self) -> tuple[int, dict[str, str]]:
        with self.lock:
            return self.script.pop(0) if self.script else (self.default_status, {})

    def record(self, item: Received) -> None:
        with self.lock:
            self.received.append(item)

    def events(self) -> list[dict[str, Any]]:
        """Bodies received, parsed."""
        with self.lock:
            return [r.json for r in self.received]


@contextmanager
def running_receiver(host: str = "127.0.0.1") -> Iterator[Receiver]:
    """A receiver on a free port of ``host`` for the duration of the block."""
    holder: dict[str, Receiver] = {}

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            length = int(self.headers.get("content-length") or 0)
            body = self.rfile.read(length)
            receiver = holder["receiver"]
            receiver.record(Received(self.path, {k.lower(): v for k, v in self.headers.items()}, body))
            status, headers = receiver.next_answer()
            self.send_response(status)
            for name, value in headers.items():
                self.send_header(name, value)
            self.send_header("content-length", "2")
            self.end_headers()
            self.wfile.write(b"ok")

        def do_GET(self) -> None:  # a campaign's health checks
            self.do_POST()

        def log_message(self, *_: Any) -> None:
            pass

    server = ThreadingHTTPServer((host, 0), Handler)
    port = server.server_address[1]
    holder["receiver"] = Receiver(url=f"http://{host}:{port}/hooks")
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield holder["receiver"]
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)
