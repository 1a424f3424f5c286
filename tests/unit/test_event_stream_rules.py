"""The event stream's pure rules: holding back behind a missing transition id, scope and filter matching,
and dropping a subscriber that fell behind (no database, no server)."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime

from app.events.filter import EventFilter, Matcher
from app.events.hub import Hub
from app.events.model import JobEvent
from app.job.states import JobState
from app.scopes import ScopeSet
from app.settings import EventSettings

VAULT = "/subscriptions/S1/resourceGroups/dr/providers/Microsoft.RecoveryServices/vaults/v1"
NEIGHBOUR = "/subscriptions/S1/resourceGroups/dr-a/providers/Microsoft.RecoveryServices/vaults/v1"
REQUEST = uuid.uuid4()


def event(event_id: int, *, vault: str = VAULT, state: str = "syncing", vm: str = "vm-1") -> JobEvent:
    return JobEvent(
        event_id, uuid.uuid4(), REQUEST, vm, f"{vault}/items/{vm}", vault, "S1", state, "reprotecting", 1,
        datetime(2026, 1, 1, tzinfo=UTC), None, None, None,
    )  # fmt: skip


def hub(**settings: float) -> Hub:
    return Hub(None, EventSettings(**settings))  # type: ignore[arg-type]  # the rules never read the database


def test_a_missing_id_holds_later_events_back_until_it_commits():
    box = hub(gap_grace_seconds=2)
    box.watermark = 10
    assert [e.id for e in box.deliverable([event(11), event(13)], now=0.0)] == [11]
    assert box.watermark == 11
    assert box.deliverable([event(13)], now=1.0) == []
    assert [e.id for e in box.deliverable([event(12), event(13)], now=1.5)] == [12, 13]
    assert box.watermark == 13


def test_a_hole_older_than_the_grace_is_skipped():
    box = hub(gap_grace_seconds=2)
    box.watermark = 10
    assert box.deliverable([event(12)], now=0.0) == []
    assert box.deliverable([event(12)], now=1.9) == []
    assert [e.id for e in box.deliverable([event(12), event(14)], now=2.0)] == [12]
    assert box.watermark == 12


def test_scopes_match_whole_segments_and_filters_ignore_case():
    inside = Matcher(EventFilter(), ScopeSet.parse(["/subscriptions/s1/resourceGroups/DR"]))
    assert inside(event(1))
    assert not inside(event(2, vault=NEIGHBOUR))  # "dr-a" starts with "dr" but is another group
    assert not Matcher(EventFilter(), ScopeSet())(event(3))
    everything = ScopeSet.parse(["*"])
    assert Matcher(EventFilter(vault_id=VAULT.upper(), vm="VM-1"), everything)(event(4))
    assert not Matcher(EventFilter(state=JobState.PROTECTED), everything)(event(5))
    assert not Matcher(EventFilter(subscription_id="s2"), everything)(event(6))
    assert Matcher(EventFilter(request_id=REQUEST, subscription_id="s1"), everything)(event(7))


def test_a_subscriber_that_falls_behind_is_dropped_and_told_why():
    async def scenario() -> None:
        box = hub(subscriber_queue_size=2)
        slow = box.attach(lambda e: True)
        keeping_up = box.attach(lambda e: True)
        box.fan_out([event(1), event(2)])
        assert [e.id for e in keeping_up.take()] == [1, 2]
        box.fan_out([event(3)])
        assert slow.ending == "subscriber_too_slow"
        assert slow not in box.subscribers
        assert [e.id for e in slow.take()] == [1, 2]  # what it had is still sent before the stream ends
        assert keeping_up.ending is None
        assert [e.id for e in keeping_up.take()] == [3]

    asyncio.run(scenario())
