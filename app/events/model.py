"""One job change as the stream sends it: a transition with the job's compact state, framed once for SSE."""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from app.scopes import arm_segments


def _iso(value: datetime | None) -> str | None:
    return value.isoformat().replace("+00:00", "Z") if value is not None else None


@dataclass(frozen=True, slots=True)
class JobEvent:
    """A transition (``id`` is its id in ``job_transitions``) and the job it moved.

    ``state``, ``from_state``, ``attempt`` and ``at`` are the transition's; ``resync_percent``,
    ``eta_at``, ``error_code`` and ``created_at`` are the job's as read when the event left the database.
    """

    id: int
    job_id: uuid.UUID
    request_id: uuid.UUID
    vm_name: str
    item_id: str
    vault_id: str
    subscription_id: str
    state: str
    from_state: str | None
    attempt: int
    at: datetime
    resync_percent: int | None
    eta_at: datetime | None
    error_code: str | None
    created_at: datetime | None = None  # the job's, for the ``created_after``/``created_before`` filters
    kind: str = "reprotect"  # what the job does (app.job.kinds)
    # Lowercase ``/subscriptions/…/vaults/name/`` for scope checks by prefix; "" for a malformed vault id.
    placed: str = field(init=False)
    frame: bytes = field(init=False)

    def __post_init__(self) -> None:
        segments = arm_segments(self.vault_id)
        object.__setattr__(self, "placed", "/" + "".join(f"{s}/" for s in segments) if segments else "")
        object.__setattr__(self, "frame", sse_frame(self.id, "job", self.data()))

    def data(self) -> dict[str, Any]:
        """The event's JSON body."""
        return {
            "event_id": self.id,
            "job_id": str(self.job_id),
            "request_id": str(self.request_id),
            "vm_name": self.vm_name,
            "kind": self.kind,
            "vault_id": self.vault_id,
            "state": self.state,
            "from_state": self.from_state,
            "attempt": self.attempt,
            "at": _iso(self.at),
            "resync_percent": self.resync_percent,
            "eta_at": _iso(self.eta_at),
            "error_code": self.error_code,
        }


def sse_frame(event_id: int | None, kind: str, data: dict[str, Any]) -> bytes:
    """One server-sent event (JSON has no raw newlines, so one ``data:`` line suffices)."""
    head = f"id: {event_id}\n" if event_id is not None else ""
    return f"{head}event: {kind}\ndata: {json.dumps(data, separators=(',', ':'))}\n\n".encode()


def sse_comment(text: str) -> bytes:
    """A comment line: ignored by clients, keeps the connection (and proxies) awake."""
    return f": {text}\n\n".encode()
