"""A tiny case-insensitive router for ARM paths, and the request/answer types the handlers share."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from emulator.errors import bad_request
from emulator.runtime_view import RuntimeView


@dataclass
class Reply:
    """An answer: status, JSON body (None: empty) and headers."""

    status: int
    body: Any = None
    headers: dict[str, str] = field(default_factory=dict)


@dataclass
class Ctx:
    """One ARM request as a handler sees it."""

    emulator: RuntimeView
    method: str
    path: str
    params: dict[str, str]
    query: dict[str, str]
    raw_body: bytes
    base_url: str
    now: float = 0.0
    item: str | None = None  # the replicated item the call is about, for per-item stats

    @property
    def api_version(self) -> str:
        """The request's api-version (any value is accepted)."""
        return self.query.get("api-version", "")

    def json(self) -> dict[str, Any]:
        """The body as a JSON object (400 when it is not one)."""
        try:
            body = json.loads(self.raw_body or b"{}")
        except ValueError as exc:
            raise bad_request(f"The request content is not valid JSON: {exc}") from exc
        if not isinstance(body, dict):
            raise bad_request("The request content must be a JSON object.")
        return body


Handler = Callable[[Ctx], Reply]


@dataclass(frozen=True)
class Route:
    """A method + path pattern bound to a swagger-style operation id."""

    method: str
    regex: re.Pattern[str]
    operation_id: str
    handler: Handler


def _compile(pattern: str) -> re.Pattern[str]:
    parts = re.split(r"(\{[a-z_]+\})", pattern)
    body = "".join(f"(?P<{p[1:-1]}>[^/]+)" if p.startswith("{") else re.escape(p) for p in parts)
    return re.compile(f"^{body}/?$", re.IGNORECASE)


class Router:
    """Routes in registration order; matching ignores case as ARM does."""

    def __init__(self) -> None:
        self.routes: list[Route] = []

    def add(self, method: str, pattern: str, operation_id: str, handler: Handler) -> None:
        """Register ``handler`` for ``method`` on ``pattern`` (``{name}`` matches one segment)."""
        self.routes.append(Route(method.upper(), _compile(pattern), operation_id, handler))

    def match(self, method: str, path: str) -> tuple[Route | None, dict[str, str], bool]:
        """The route and its parameters; the flag says some other method would match the path."""
        other = False
        for route in self.routes:
            found = route.regex.match(path)
            if found is None:
                continue
            if route.method == method.upper():
                return route, found.groupdict(), False
            other = True
        return None, {}, other
