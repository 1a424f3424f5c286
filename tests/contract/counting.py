"""An ASGI wrapper counting the HTTP requests that really reached the app, by route and status."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

from starlette.types import ASGIApp, Message, Receive, Scope, Send


@dataclass
class RequestCounter:
    """Wrap ``app``; every answered HTTP request is counted under ``(METHOD route, status)``."""

    app: ASGIApp
    answered: Counter[tuple[str, int]] = field(default_factory=Counter)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        status = 0

        async def noted(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, noted)
        finally:  # an exception escaping the app still counts (as whatever status went out, 0 if none)
            route = getattr(scope.get("route"), "path", scope["path"])  # the router leaves the matched route here
            self.answered[(f"{scope['method']} {route}", status)] += 1

    @property
    def total(self) -> int:
        """Requests answered so far."""
        return sum(self.answered.values())

    def count(self, *, status_from: int = 100, status_to: int = 599) -> int:
        """Requests answered with a status in ``[status_from, status_to]``."""
        return sum(n for (_, status), n in self.answered.items() if status_from <= status <= status_to)

    def reset(self) -> None:
        """Forget what was counted (the schema itself is fetched through the app too)."""
        self.answered.clear()
