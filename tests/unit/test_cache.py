"""The adapter's short cache: vault-wide lists are shared, an item's state is always fresh."""

from app.cloud.cache import CachedCloud
from app.cloud.ids import parse_vault_id
from tests.fakes import FakeCloud, sample_item


def test_finding_vms_by_name_lists_the_vault_once_but_reads_state_fresh():
    raw = sample_item()
    fake = FakeCloud(items=[raw])
    now = [0.0]
    cloud = CachedCloud(fake, ttl_seconds=30, clock=lambda: now[0])
    vault = parse_vault_id(raw["id"].split("/replicationFabrics/")[0])

    assert cloud.find_item(vault, "reprotectvm").protection_state == "UnplannedFailoverCommitted"
    raw["properties"]["protectionState"] = "SwitchProtectionInProgress"
    assert cloud.find_item(vault, "REPROTECTVM").protection_state == "SwitchProtectionInProgress"
    assert fake.list_calls == 1

    now[0] = 31.0  # past the TTL the index is rebuilt
    cloud.find_item(vault, "reprotectvm")
    assert fake.list_calls == 2
    assert cloud.find_item(vault, "no-such-vm") is None
