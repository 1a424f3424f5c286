"""The event stream's pure rules: holding back behind a missing transition id, where a poller starts, scope
and filter matching, dropping a subscriber that fell behind, revocation rechecks and stream caps (no
database, no server)."""

from __future__ import annotations

import asyncio
import dataclasses
import uuid
from datetime import UTC, datetime, timedelta

import pytest

from app.events.filter import EventFilter, Matcher
from app.events.hub import Hub, StreamsExhausted, TooManyStreams, start_point
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


def test_error_code_and_creation_time_filter_like_the_job_list():
    everything = ScopeSet.parse(["*"])
    created = datetime(2026, 1, 1, 12, tzinfo=UTC)
    failed = dataclasses.replace(event(1), error_code="ItemNotFound", created_at=created)
    assert Matcher(EventFilter(error_code="ItemNotFound"), everything)(failed)
    assert not Matcher(EventFilter(error_code="itemnotfound"), everything)(failed)  # exact, as GET /jobs
    assert not Matcher(EventFilter(error_code="ItemNotFound"), everything)(event(2))
    assert Matcher(EventFilter(created_after=created, created_before=created + timedelta(seconds=1)), everything)(
        failed
    )
    assert not Matcher(EventFilter(created_before=created), everything)(failed)  # exclusive
    assert not Matcher(EventFilter(created_after=created + timedelta(seconds=1)), everything)(failed)


def test_a_restarted_poller_begins_below_a_young_hole_so_a_late_commit_is_still_sent():
    now = datetime(2026, 1, 1, 12, tzinfo=UTC)
    old, young = now - timedelta(seconds=30), now - timedelta(seconds=1)
    # Id 12 drawn but not committed yet, 13 and 14 committed a moment ago: start after 11.
    assert start_point([(10, old), (11, old), (13, young), (14, young)], 14, now=now, grace_seconds=2) == 11
    # A hole older than the grace (a rolled-back insert) does not hold the start back.
    assert start_point([(10, old), (12, old), (13, young)], 13, now=now, grace_seconds=2) == 13
    assert start_point([], 0, now=now, grace_seconds=2) == 0
    # From there the gap rule delivers 13 and 14 only once 12 commits (or its grace passes).
    box = hub(gap_grace_seconds=2)
    box.watermark = 11
    assert box.deliverable([event(13), event(14)], now=0.0) == []
    assert [e.id for e in box.deliverable([event(12), event(13), event(14)], now=0.5)] == [12, 13, 14]


def test_a_moved_revocation_epoch_has_every_stream_check_its_credential():
    async def scenario() -> None:
        box = hub()
        epoch: list[int | None] = [None]
        box.revocation_epoch = lambda: epoch[0]
        first, second = box.attach(lambda e: True), box.attach(lambda e: True)
        box.note_revocations()  # the first look only records the epoch
        assert not first.recheck
        epoch[0] = 1  # subscribed: anything missed before counts as a revocation
        box.note_revocations()
        assert first.recheck
        assert second.recheck
        assert first.ready.is_set()
        first.recheck = second.recheck = False
        box.note_revocations()
        assert not first.recheck

    asyncio.run(scenario())


def test_streams_are_capped_per_caller_and_per_process():
    async def scenario() -> None:
        box = hub(max_streams_per_principal=2, max_streams_per_process=3)
        box.attach(lambda e: True, "key:a")
        box.attach(lambda e: True, "key:a")
        with pytest.raises(TooManyStreams):
            box.admit("key:a")
        box.admit("key:b")
        box.attach(lambda e: True, "key:b")
        with pytest.raises(StreamsExhausted):
            box.admit("key:c")

    asyncio.run(scenario())
