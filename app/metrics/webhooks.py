"""Webhook metrics: each delivery attempt by outcome, and the time from the event to its delivery."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from app.metrics import definitions as m

_OUTCOMES = {"delivered": "delivered", "pending": "retrying", "failed": "failed", "cancelled": "cancelled"}


def attempted(delivery: Any, *, now: datetime) -> None:
    """One attempt of ``delivery`` was recorded (``app.webhook.delivery.record``); its status is settled."""
    outcome = _OUTCOMES.get(delivery.status, "other")
    m.WEBHOOK_ATTEMPTS.labels(outcome).inc()
    if outcome == "delivered" and delivery.created_at is not None:  # created with the event, in its transaction
        m.WEBHOOK_LATENCY.observe(max(0.0, (now - delivery.created_at).total_seconds()))
