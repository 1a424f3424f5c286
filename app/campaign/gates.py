"""A gate's health checks: each application endpoint a wave names must answer its expected status.

The calls go through the service's outbound sender (``app.outbound.transport``): the same address policy, time
limits and redirect refusal as webhooks, so a check cannot be pointed at the service's own network.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from app.outbound.transport import WebhookSender


def run_checks(sender: WebhookSender, checks: list[dict[str, Any]], *, now: datetime) -> list[dict[str, Any]]:
    """Each check's outcome: the URL, the status expected and got (or why there was none), and whether it held."""
    results = []
    for check in checks:
        answer = sender.get(check["url"])
        expected = int(check.get("expected_status", 200))
        results.append(
            {
                "url": check["url"],
                "expected_status": expected,
                "status": answer.status_code,
                "error": None if answer.status_code is not None else f"{answer.error_code}: {answer.error}",
                "passed": answer.status_code == expected,
                "at": now.isoformat().replace("+00:00", "Z"),
            }
        )
    return results


def failure_reason(results: list[dict[str, Any]]) -> str | None:
    """Why the checks failed, in one line naming each failing endpoint; None when all held."""
    failing = [
        f"{r['url']} answered {r['status']} (expected {r['expected_status']})"
        if r["status"] is not None
        else f"{r['url']} did not answer ({r['error']})"
        for r in results
        if not r["passed"]
    ]
    return "health check failed: " + "; ".join(failing) if failing else None
