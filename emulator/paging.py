"""Paged list answers as ARM gives them: ``value`` plus a ``nextLink`` that carries the original query and a
``$skiptoken``; each page is a request of its own (so ARM's read throttle counts every page).

Azure does not publish the page sizes of these lists; ``PAGE_SIZE`` is small (never easier than Azure: a
client that follows ``nextLink`` works with any size, and a smaller page costs more reads)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, TypeVar
from urllib.parse import urlencode

from emulator.errors import bad_request
from emulator.router import Ctx, Reply

T = TypeVar("T")
PAGE_SIZE = 100
SKIP_TOKEN = "$skiptoken"  # noqa: S105 (a query parameter, not a secret)


def paged(ctx: Ctx, values: list[dict[str, Any]], size: int = PAGE_SIZE) -> Reply:
    """The page of ``values`` the request's ``$skiptoken`` asks for, with the next page's link."""
    return paged_render(ctx, values, lambda value: value, size)


def paged_render(
    ctx: Ctx,
    values: Sequence[T],
    render: Callable[[T], dict[str, Any]],
    size: int = PAGE_SIZE,
    cut_at: Callable[[T], str] | None = None,
) -> Reply:
    """Like ``paged``, rendering only the page's own values; with ``cut_at``, a page also ends where that key
    changes (``values`` sorted by it), e.g. at a fabric's end."""
    token = ctx.query.get(SKIP_TOKEN) or ctx.query.get("$skipToken") or "0"
    if not token.isdigit():
        raise bad_request(f"The $skiptoken '{token}' is not valid.")
    start = int(token)
    end = min(start + size, len(values))
    if cut_at is not None and start < end:
        first = cut_at(values[start])
        end = next((i for i in range(start, end) if cut_at(values[i]) != first), end)
    link = None
    if end < len(values):
        query = {k: v for k, v in ctx.query.items() if k.lower() != SKIP_TOKEN}
        query[SKIP_TOKEN] = str(end)
        link = f"{ctx.base_url.rstrip('/')}{ctx.path}?{urlencode(query, safe='$')}"
    return Reply(200, {"value": [render(v) for v in values[start:end]], "nextLink": link})
