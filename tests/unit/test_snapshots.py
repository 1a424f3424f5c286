"""Shared list snapshots: one load however many threads ask, reloaded after the TTL; per-item reads are
answered from the list, and an absent item is confirmed with Azure itself before anyone is refused for it."""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor

from app.cloud.ids import parse_item_id, parse_vault_id
from app.cloud.snapshots import SnapshotCloud, Snapshots
from app.cloud.types import ReplicatedItem
from tests.fakes import FakeCloud, sample_item


class ListingFake(FakeCloud):
    """Azure's whole-list reads over the fake's items, counted (the fake stands for Azure)."""

    item_lists = 0
    get_calls = 0

    def get_item(self, ref):  # type: ignore[no-untyped-def]
        self.get_calls += 1
        return super().get_item(ref)

    def list_vault_items_for_checks(self, vault):  # type: ignore[no-untyped-def]
        self.item_lists += 1
        time.sleep(0.05)  # a slow paged list: concurrent callers arrive while it loads
        return self.list_items(vault)

    def list_subscription_vms(self, subscription_id):  # type: ignore[no-untyped-def]
        return []

    def list_subscription_availability(self, subscription_id):  # type: ignore[no-untyped-def]
        return {}

    def list_vault_jobs_started_since(self, vault, since):  # type: ignore[no-untyped-def]
        return []


def _setup() -> tuple[ListingFake, SnapshotCloud, list[float], dict]:  # type: ignore[type-arg]
    raw = sample_item()
    fake = ListingFake(items=[raw])
    now = [0.0]
    cloud = SnapshotCloud(fake, fake, Snapshots(10.0, clock=lambda: now[0]))
    return fake, cloud, now, raw


def test_many_threads_asking_at_once_share_one_list_load():
    fake, cloud, _, raw = _setup()
    ref = parse_item_id(raw["id"])
    barrier = threading.Barrier(16)

    def ask(_: int) -> ReplicatedItem | None:
        barrier.wait()
        return cloud.get_item(ref)

    with ThreadPoolExecutor(16) as pool:
        found = list(pool.map(ask, range(16)))
    assert all(item is not None and item.ref.id == ref.id for item in found)
    assert fake.item_lists == 1
    assert fake.get_calls == 0  # no per-item read


def test_the_list_is_read_again_after_its_ttl_and_state_changes_show_then():
    fake, cloud, now, raw = _setup()
    ref = parse_item_id(raw["id"])
    assert cloud.get_item(ref).protection_state == "UnplannedFailoverCommitted"
    raw["properties"]["protectionState"] = "SwitchProtectionInProgress"
    now[0] = 5.0
    assert cloud.get_item(ref).protection_state == "UnplannedFailoverCommitted"  # within the TTL: the snapshot
    now[0] = 10.5
    assert cloud.get_item(ref).protection_state == "SwitchProtectionInProgress"
    assert fake.item_lists == 2


def test_an_item_missing_from_the_list_is_confirmed_by_a_direct_read():
    fake, cloud, _, raw = _setup()
    vault = parse_vault_id(raw["id"].split("/replicationFabrics/")[0])
    gone = parse_item_id(raw["id"].replace(raw["name"], "other-item"))
    assert cloud.get_item(gone) is None
    assert fake.get_calls == 1
    assert cloud.find_item(vault, "reprotectvm") is not None
    assert fake.item_lists == 1


def test_a_slow_load_is_kept_a_full_ttl_and_counts_towards_how_old_an_answer_may_be():
    """A paged list that takes 8 s to read is kept 10 s from when it landed (not read again at once), and
    the store says an answer may be 18 s old: what the intake's recheck of recently moved VMs must cover."""
    now = [0.0]
    store = Snapshots(10.0, clock=lambda: now[0])
    loads: list[float] = []

    def slow_load() -> int:
        loads.append(now[0])
        now[0] += 8.0  # eight seconds of pages (and read-budget waits)
        return len(loads)

    assert store.get(("items", "v"), slow_load) == 1
    now[0] = 15.0  # 7 s after it landed: still kept
    assert store.get(("items", "v"), slow_load) == 1
    assert store.oldest_answer_seconds() == 18.0
    now[0] = 18.5
    assert store.get(("items", "v"), slow_load) == 2


def test_an_afresh_view_reads_the_list_once_from_now_on_and_shares_it_while_others_keep_the_snapshot():
    fake, cloud, now, raw = _setup()
    ref = parse_item_id(raw["id"])
    assert cloud.get_item(ref).protection_state == "UnplannedFailoverCommitted"
    raw["properties"]["protectionState"] = "Protected"  # our own step just changed it in Azure
    now[0] = 2.0
    fresh = cloud.afresh()
    assert fresh.get_item(ref).protection_state == "Protected"  # the snapshot predates the view: read again
    assert fresh.get_item(ref).protection_state == "Protected"
    assert fake.item_lists == 2  # once for the view, however many VMs it checks
    assert cloud.get_item(ref).protection_state == "Protected"  # the new answer is shared from then on
    assert fake.item_lists == 2
