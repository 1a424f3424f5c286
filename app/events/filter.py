"""Which events a subscriber gets: its filter (like ``GET /jobs``) and its scopes, as one pure predicate."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime

from app.events.model import JobEvent
from app.job.states import JobState
from app.scopes import ScopeSet


@dataclass(frozen=True)
class EventFilter:
    """What ``GET /events/jobs`` filters on, as ``GET /jobs`` does: text matches ignore case except
    ``error_code`` (exact); ``created_after`` is inclusive and ``created_before`` exclusive (the job's creation)."""

    state: JobState | None = None
    vault_id: str | None = None
    vm: str | None = None
    request_id: uuid.UUID | None = None
    subscription_id: str | None = None
    error_code: str | None = None
    created_after: datetime | None = None
    created_before: datetime | None = None


class Matcher:
    """The filter and scopes, normalised once; ``__call__`` runs for every event and subscriber."""

    __slots__ = (
        "_after", "_before", "_error", "_prefixes", "_request", "_state", "_subscription", "_unrestricted",
        "_vault", "_vm",
    )  # fmt: skip

    def __init__(self, where: EventFilter, scopes: ScopeSet):
        self._unrestricted = scopes.is_unrestricted
        self._prefixes = tuple(scopes.prefixes())
        self._state = where.state.value if where.state else None
        self._vault = where.vault_id.lower() if where.vault_id else None
        self._vm = where.vm.lower() if where.vm else None
        self._request = where.request_id
        self._subscription = where.subscription_id.lower() if where.subscription_id else None
        self._error = where.error_code or None
        self._after = where.created_after
        self._before = where.created_before

    def __call__(self, event: JobEvent) -> bool:
        if not self._unrestricted and not (event.placed and event.placed.startswith(self._prefixes)):
            return False
        if self._state is not None and event.state != self._state:
            return False
        if self._vault is not None and event.vault_id.lower() != self._vault:
            return False
        if self._vm is not None and self._vm not in (event.vm_name.lower(), event.item_id.lower()):
            return False
        if self._request is not None and event.request_id != self._request:
            return False
        if self._error is not None and event.error_code != self._error:
            return False
        if self._after is not None and (event.created_at is None or event.created_at < self._after):
            return False
        if self._before is not None and (event.created_at is None or event.created_at >= self._before):
            return False
        return self._subscription is None or event.subscription_id.lower() == self._subscription
