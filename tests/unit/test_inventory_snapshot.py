"""The inventory's snapshots over a fake Azure: one list call per vault however many callers ask at once, a
stale copy served while one background read refreshes it, and a vault Azure refuses recorded with why."""

from __future__ import annotations

import threading
import time

from app.errors import CloudTransient
from app.fleet.snapshot import Inventory
from app.settings import FleetSettings
from tests.fakes import FakeCloud, sample_item

VAULT = sample_item()["id"].split("/replicationFabrics/")[0]


class SlowCloud(FakeCloud):
    """A fake Azure whose item list takes a moment (so that callers overlap) and can be told to fail."""

    def __init__(self) -> None:
        super().__init__(items=[sample_item()])
        self.fail = False
        self.calls = 0
        self.lock = threading.Lock()

    def list_items(self, vault):  # type: ignore[no-untyped-def]
        with self.lock:
            self.calls += 1
        time.sleep(0.05)
        if self.fail:
            raise CloudTransient("ARM answered 503", status=503)
        return super().list_items(vault)


def test_callers_asking_at_once_share_one_list_call():
    cloud = SlowCloud()
    inventory = Inventory(cloud, FleetSettings(vault_ids=[VAULT]), workers=8)
    got: list[int] = []
    threads = [
        threading.Thread(target=lambda: got.append(len(inventory.snapshots([VAULT])[0].items or ()))) for _ in range(8)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert got == [1] * 8
    assert cloud.calls == 1
    inventory.close()


def test_a_stale_copy_is_served_while_one_background_read_refreshes_it():
    cloud = SlowCloud()
    now = [0.0]
    settings = FleetSettings(vault_ids=[VAULT], snapshot_ttl_seconds=10, snapshot_max_age_seconds=100)
    inventory = Inventory(cloud, settings, clock=lambda: now[0])
    first = inventory.snapshots([VAULT])[0]
    assert inventory.snapshots([VAULT])[0] is first  # fresh: no read
    now[0] = 50.0
    for _ in range(5):
        assert inventory.snapshots([VAULT])[0].items == first.items  # stale but usable: served at once
    deadline = time.monotonic() + 5
    while cloud.calls < 2 and time.monotonic() < deadline:
        time.sleep(0.01)
    time.sleep(0.1)
    assert cloud.calls == 2  # one refresh for five callers
    now[0] = 500.0  # too old to serve: read at once
    inventory.snapshots([VAULT])
    assert cloud.calls == 3
    inventory.close()


def test_a_vault_azure_will_not_list_is_recorded_with_the_reason():
    cloud = SlowCloud()
    cloud.fail = True
    inventory = Inventory(cloud, FleetSettings(vault_ids=[VAULT]))
    [snap] = inventory.snapshots([VAULT])
    assert snap.items is None
    assert snap.error is not None
    assert (snap.error.vault_id, snap.error.code) == (VAULT, "azure_transient")
    assert "503" in snap.error.message
    inventory.close()
