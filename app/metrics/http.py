"""HTTP metrics: a pure ASGI middleware timing every API request by method, route template and status.

Kept cheap for the read path: the route template is the one the router already matched (FastAPI leaves
the route in the scope), so nothing is matched twice; the histogram child for each (method, route, status)
is looked up once and kept, so a request costs two clock reads, one small closure and one ``observe``.
Paths no route matched are one label value (``unmatched``): a scan of random URLs cannot grow the series.
"""

from __future__ import annotations

import time
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app.metrics import definitions as m

UNMATCHED = "unmatched"


class HttpMetrics:
    """Observe each HTTP request's latency under its method, route template and status."""

    def __init__(self, app: ASGIApp):
        self.app = app
        self._children: dict[tuple[str, str, int], Any] = {}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        status = 500  # an exception before the answer started is a 500 to the caller
        started = time.perf_counter()

        async def send_noting_status(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_noting_status)
        finally:
            route = scope.get("route")
            template = getattr(route, "path_format", None) or UNMATCHED
            key = (scope["method"], template, status)
            child = self._children.get(key)
            if child is None:
                child = self._children[key] = m.HTTP_REQUEST_DURATION.labels(key[0], template, str(status))
            child.observe(time.perf_counter() - started)
