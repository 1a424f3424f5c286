"""``--output table|json`` for every read command: one option, one renderer.

JSON is the API's answer as it came (so scripts see the same fields as the OpenAPI document), printed alone
on stdout; a table is for people. Times are shown in UTC with what is left until them.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime
from enum import StrEnum
from typing import Annotated, Any

import typer


class Output(StrEnum):
    """How to print the answer."""

    TABLE = "table"
    JSON = "json"


OutputOption = Annotated[
    Output,
    typer.Option(
        "--output", "-o", help="table (for people) or json (the API's answer as it came, for scripts).",
        case_sensitive=False,
    ),
]  # fmt: skip


def render(data: Any, output: Output, table: Callable[[], None]) -> None:
    """Print ``data`` as JSON on stdout, or call ``table`` to print it for people."""
    if output == Output.JSON:
        print_json(data)
    else:
        table()


def print_json(data: Any) -> None:
    """One JSON document on stdout (indented; datetimes as ISO 8601)."""
    print(json.dumps(data, indent=2, default=_jsonable), flush=True)


def _jsonable(value: Any) -> str:
    return value.isoformat() if isinstance(value, datetime) else str(value)


def parse_time(value: str | None) -> datetime | None:
    """An API timestamp (ISO 8601, ``Z`` or offset) as an aware datetime."""
    if not value:
        return None
    parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def duration(seconds: float) -> str:
    """``3h 04m``, ``5m 03s``, ``42s``: how long, rounded for people."""
    seconds = max(0, round(seconds))
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    if hours:
        return f"{hours}h {minutes:02d}m"
    if minutes:
        return f"{minutes}m {secs:02d}s"
    return f"{secs}s"


def eta_text(value: str | datetime | None, now: datetime | None = None) -> str:
    """``04:35:10Z (in 5m 03s)``; ``-`` when unknown; ``due`` once passed."""
    when = parse_time(value) if isinstance(value, str) or value is None else value
    if when is None:
        return "-"
    left = (when - (now or datetime.now(UTC))).total_seconds()
    clock = when.astimezone(UTC).strftime("%H:%M:%SZ")
    return f"{clock} (in {duration(left)})" if left > 0 else f"{clock} (due)"


def short_time(value: str | None) -> str:
    """``2026-12-01 04:35:10Z`` or ``-``."""
    when = parse_time(value)
    return when.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%SZ") if when else "-"
