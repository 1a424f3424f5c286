"""Lists page as ARM's do (``nextLink`` carrying the query and a ``$skiptoken``, each page a read the throttle
counts), ASR jobs filter by start time as PowerShell asks, and Resource Health lists a subscription's statuses;
read through the service's own ``AzureCloud`` over the unmodified SDK."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from app.cloud.azure_sdk import AzureCloud
from app.cloud.ids import parse_vault_id
from app.settings import AzureSettings
from tests.emulator.support import advance, item_json, submit, switch_body
from tests.emulator_process import running_emulator

VMS = 230  # three pages of 100


@pytest.fixture(scope="module")
def fleet_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with running_emulator(tmp_path_factory.mktemp("fleet"), seed=1, time_scale=1, scenario=f"fleet:{VMS}") as url:
        yield url


@pytest.fixture
def fleet(fleet_url: str) -> Iterator[tuple[httpx.Client, dict[str, Any]]]:
    with httpx.Client(base_url=fleet_url, timeout=10) as admin:
        admin.post("/_emulator/reset").raise_for_status()
        admin.put("/_emulator/throttle", json={"enabled": False}).raise_for_status()
        yield admin, admin.get("/_emulator/scenario").json()["subscriptions"][0]


def _cloud(url: str) -> AzureCloud:
    return AzureCloud(AzureSettings(endpoint=url, request_timeout_seconds=10))


def test_replicated_items_come_in_pages_each_a_counted_read(fleet, fleet_url):
    admin, sub = fleet
    vault = sub["vaults"][0]
    path = f"{vault['id']}/replicationProtectedItems"
    first = httpx.get(f"{fleet_url}{path}", params={"api-version": "2025-01-01"}, headers={"Authorization": "Bearer t"})
    page = first.json()
    assert len(page["value"]) == 100
    assert "$skiptoken=100" in page["nextLink"]
    assert "api-version=2025-01-01" in page["nextLink"]
    before = admin.get("/_emulator/stats").json()["calls"].get("ReplicationProtectedItems_List", 0)

    cloud = _cloud(fleet_url)
    try:
        items = cloud.list_vault_items_for_checks(parse_vault_id(vault["id"]))
    finally:
        cloud.close()
    assert len(items) == VMS
    assert len({i.ref.id.lower() for i in items}) == VMS  # every item once across the pages
    after = admin.get("/_emulator/stats").json()["calls"]["ReplicationProtectedItems_List"]
    assert after - before == 3


def test_a_subscriptions_vms_and_their_resource_health_come_in_whole_paged_lists(fleet, fleet_url):
    _, sub = fleet
    cloud = _cloud(fleet_url)
    try:
        vms = cloud.list_subscription_vms(sub["id"])
        health = cloud.list_subscription_availability(sub["id"])
    finally:
        cloud.close()
    assert len(vms) == 2 * VMS  # the original VMs and the failed-over ones
    assert {vm.id.lower() for vm in vms} == set(health)
    assert {s.state for s in health.values()} <= {"Available", "Unavailable", "Degraded", "Unknown"}


def test_asr_jobs_are_filtered_by_start_time_across_pages(client, demo, admin, emu_url):
    submit(client, demo, switch_body(demo, item_json(client, demo, "web-01")))
    advance(admin, 3600)
    submit(client, demo, switch_body(demo, item_json(client, demo, "db-01")))
    cloud = _cloud(emu_url)
    vault = parse_vault_id(demo.vault_id)
    try:
        every = cloud.list_vault_jobs_started_since(vault, datetime(2000, 1, 1, tzinfo=UTC))
        newest = datetime.fromisoformat(every[0].start_time.replace("Z", "+00:00")[:26] + "+00:00")
        recent = cloud.list_vault_jobs_started_since(vault, newest - timedelta(minutes=1))
    finally:
        cloud.close()
    assert [j.target_object_name for j in every] == ["db-01", "web-01"]
    assert [j.target_object_name for j in recent] == ["db-01"]
    bad = httpx.get(
        f"{emu_url}{demo.vault_id}/replicationJobs",
        params={"api-version": "2025-01-01", "$filter": "StartTime eq 'yesterday'"},
        headers={"Authorization": "Bearer t"},
    )
    assert bad.status_code == 400
