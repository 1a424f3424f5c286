"""``GET /vms`` and ``GET /vms/summary`` through the HTTP API, the real SDK and the emulator serving a fleet
across three vaults, three subscriptions and two region pairs (``tests/api/inventory_fleet.py``)."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import text

from app.api.app import create_app
from app.bootstrap import Container, bootstrap
from app.settings import FleetSettings
from emulator.fleet import subscription_id
from tests.api.conftest import make_key
from tests.api.inventory_fleet import write
from tests.conftest import TABLES, service_settings
from tests.drive import drive
from tests.emulator.support import sdk_client
from tests.emulator_process import running_emulator

SUBSCRIPTIONS = [subscription_id(i) for i in range(3)]
GHOST_VAULT = (
    f"/subscriptions/{SUBSCRIPTIONS[0]}/resourceGroups/fleet-dr-rg/providers/Microsoft.RecoveryServices/vaults/ghost"
)


def vault_id(index: int, name: str | None = None) -> str:
    """The fleet's vault in subscription ``index``."""
    return (
        f"/subscriptions/{SUBSCRIPTIONS[index]}/resourceGroups/fleet-dr-rg/providers/Microsoft.RecoveryServices/"
        f"vaults/{name or f'fleet-vault-{index + 1:02d}'}"
    )


WEST_VAULT = vault_id(2, "west-vault")


@pytest.fixture(scope="module")
def fleet_url(tmp_path_factory) -> Iterator[str]:
    folder = tmp_path_factory.mktemp("inventory")
    with running_emulator(folder, seed=3, time_scale=20000, scenario=write(folder)) as url:
        yield url


def boxed(database_url: str, url: str, fleet: FleetSettings, *, snapshot_ttl_seconds: float | None = None) -> Container:
    """A container on an emptied database and the emulator reset to the scenario's start (``snapshot_ttl_seconds``
    overrides the tests' 0.5-s list snapshots, for tests that sweep hundreds of jobs in one pass)."""
    httpx.post(f"{url}/_emulator/reset").raise_for_status()
    httpx.delete(f"{url}/_emulator/faults").raise_for_status()
    # ARM's read budget is not what these tests are about (nor affordable for 250 VMs' checks in seconds).
    httpx.put(f"{url}/_emulator/throttle", json={"enabled": False}).raise_for_status()
    if "view_ttl_seconds" not in fleet.model_fields_set:  # look at jobs right after changing them
        fleet = fleet.model_copy(update={"view_ttl_seconds": 0.0})
    settings = service_settings(database_url, url)
    # Nor is our own share of it: with ARM's throttle off, our budget is lifted too (250 VMs' submits read 500 times).
    azure: dict[str, float] = {"read_budget_burst": 100_000.0, "read_budget_per_second": 10_000.0}
    if snapshot_ttl_seconds is not None:
        azure["snapshot_ttl_seconds"] = snapshot_ttl_seconds
    settings = settings.model_copy(update={"azure": settings.azure.model_copy(update=azure), "fleet": fleet})
    box = bootstrap(settings)
    with box.engine.begin() as connection:
        for table in TABLES:
            connection.execute(text(f"DELETE FROM {table}"))
    return box


@pytest.fixture
def box(database_url, fleet_url) -> Iterator[Container]:
    """Vaults discovered in the three subscriptions."""
    container = boxed(database_url, fleet_url, FleetSettings(discover_in_subscriptions=SUBSCRIPTIONS))
    yield container
    container.close()


@pytest.fixture
def api(box) -> Iterator[TestClient]:
    with TestClient(create_app(box), headers={"Authorization": f"Bearer {make_key(box)}"}) as client:
        yield client


def names(answer: httpx.Response) -> list[str]:
    assert answer.status_code == 200, answer.text
    return [vm["vm_name"] for vm in answer.json()["items"]]


def test_every_vm_of_the_discovered_vaults_has_its_reprotect_status(api):
    west = {vm["vm_name"]: vm for vm in api.get("/vms", params={"vault_id": WEST_VAULT}).json()["items"]}
    assert {n: (vm["reprotect_status"], vm["reason_code"]) for n, vm in west.items()} == {
        "west-01": ("protected", None),
        "west-02": ("not_eligible", "failover_not_committed"),
        "west-03": ("not_eligible", "source_vm_deleted"),
        "west-04": ("needs_reprotect", None),
        "west-05": ("needs_reprotect", None),
    }
    assert (west["west-01"]["source_region"], west["west-01"]["target_region"]) == ("westeurope", "northeurope")
    assert (west["west-04"]["source_region"], west["west-04"]["target_region"]) == ("northeurope", "westeurope")
    assert west["west-04"]["active_location"] == "Recovery"
    assert "SwitchProtection" in west["west-04"]["allowed_operations"]
    assert west["west-04"]["protection_state"] == "UnplannedFailoverCommitted"
    summary = api.get("/vms/summary", params={"group_by": "vault"}).json()
    assert (summary["total"], summary["vault_count"]) == (255, 3)
    assert summary["counts"] == {
        "needs_reprotect": 252,
        "not_eligible": 2,
        "in_progress": 0,
        "protected": 1,
        "failed": 0,
    }
    assert {g["key"]: g["total"] for g in summary["groups"]} == {vault_id(0): 125, vault_id(1): 125, WEST_VAULT: 5}
    assert summary["partial"] is False
    assert summary["eta"] is None
    assert summary["top_failure_codes"] == []
    assert summary["top_not_eligible_reasons"] == [
        {"code": "failover_not_committed", "count": 1},
        {"code": "source_vm_deleted", "count": 1},
    ]


def test_each_filter_narrows_the_inventory(api):
    def count(**params: str) -> int:
        return api.get("/vms/summary", params=params).json()["total"]

    assert count(source_region="southeastasia") == 250
    assert count(source_region="North Europe") == 4  # friendly names and ids of regions both match
    assert count(target_region="northeurope") == 1
    assert count(vault_id=vault_id(1)) == 125
    assert count(subscription_id=SUBSCRIPTIONS[2]) == 5
    assert count(resource_group="fleet-app-rg-001-asr") == 100  # the 51st-100th VM of each fleet subscription
    assert count(resource_group="fleet-app-rg-001-asr", subscription_id=SUBSCRIPTIONS[0]) == 50
    assert count(status="not_eligible") == 2
    assert count(name_prefix="WEST-0") == 5
    assert count(name_prefix="vm-0000") == 9
    assert count(source_region="southeastasia", vault_id=vault_id(0), name_prefix="vm-001") == 50
    assert names(api.get("/vms", params={"status": "protected"})) == ["west-01"]
    by_region = api.get("/vms/summary", params={"group_by": "region"}).json()["groups"]
    assert {g["key"]: g["total"] for g in by_region} == {
        "northeurope->westeurope": 4,
        "southeastasia->eastasia": 250,
        "westeurope->northeurope": 1,
    }
    by_sub = api.get("/vms/summary", params={"group_by": "subscription"}).json()["groups"]
    assert sorted(g["total"] for g in by_sub) == [5, 125, 125]


def test_bad_filters_and_unknown_parameters_are_422_problems(api):
    for params in ({"location": "eastasia"}, {"status": "sleeping"}, {"cursor": "garbage!!"}, {"group_by": "x"}):
        answer = api.get("/vms", params=params)
        assert answer.status_code == 422, params
        assert answer.headers["content-type"] == "application/problem+json"
    for path, unknown in (("/vms", "location"), ("/vms/summary", "limit")):
        problem = api.get(path, params={unknown: "eastasia"}).json()
        assert problem["code"] == "validation_failed"
        assert problem["errors"][0]["location"] == ["query", unknown]


def test_pages_walk_the_inventory_once_in_a_stable_order(api):
    seen: list[str] = []
    cursor = None
    pages = 0
    while True:
        params = {"limit": 60, "source_region": "southeastasia", **({"cursor": cursor} if cursor else {})}
        body = api.get("/vms", params=params).json()
        seen += [vm["item_id"] for vm in body["items"]]
        pages += 1
        cursor = body["next_cursor"]
        if cursor is None:
            break
    assert pages == 5
    assert len(seen) == len(set(seen)) == 250
    everything = api.get("/vms", params={"limit": 500, "source_region": "southeastasia"}).json()["items"]
    assert seen == [vm["item_id"] for vm in everything]
    assert [vm["vault_id"] for vm in everything[:125]] == [vault_id(0)] * 125


def test_a_caller_sees_only_the_vaults_in_its_scopes(box, api):
    key = make_key(box, role="operator", scopes=(WEST_VAULT,), name="west-only")
    with TestClient(create_app(box), headers={"Authorization": f"Bearer {key}"}) as west:
        assert len(names(west.get("/vms", params={"limit": 500}))) == 5
        assert names(west.get("/vms", params={"vault_id": vault_id(0)})) == []
        assert west.get("/vms/summary").json()["total"] == 5
        refused = west.post("/reprotect", json={"selector": {"vault_ids": [vault_id(0)]}})
        assert refused.status_code == 403
        assert refused.json()["code"] == "outside_scope"
        planned = west.post("/reprotect", params={"dry_run": "true"}, json={"selector": {}})
        assert sorted(vm["vm_name"] for vm in planned.json()["vms"]) == ["west-04", "west-05"]
    reader = make_key(box, role="reader", scopes=(f"/subscriptions/{SUBSCRIPTIONS[1]}",), name="reader")
    with TestClient(create_app(box), headers={"Authorization": f"Bearer {reader}"}) as sub1:
        assert sub1.get("/vms/summary").json()["total"] == 125
        assert sub1.post("/reprotect", json={"selector": {}}).status_code == 403  # readers cannot submit


def test_a_vault_azure_cannot_list_is_flagged_not_silently_missing(database_url, fleet_url):
    box = boxed(database_url, fleet_url, FleetSettings(vault_ids=[WEST_VAULT, GHOST_VAULT]))
    try:
        with TestClient(create_app(box), headers={"Authorization": f"Bearer {make_key(box)}"}) as api:
            body = api.get("/vms").json()
            assert body["partial"] is True
            assert len(body["items"]) == 5
            [missing] = body["unreadable"]
            assert missing["vault_id"].lower() == GHOST_VAULT.lower()
            assert missing["code"]
            assert missing["message"]
            assert body["vault_count"] == 2
            # A vault not watched is read when named (in the caller's scopes).
            named = api.get("/vms/summary", params={"vault_id": vault_id(0)}).json()
            assert (named["total"], named["vault_count"], named["partial"]) == (125, 1, False)
            only_ghost = api.get("/vms", params={"vault_id": GHOST_VAULT}).json()
            assert (only_ghost["items"], only_ghost["partial"]) == ([], True)
            assert [u["vault_id"].lower() for u in only_ghost["unreadable"]] == [GHOST_VAULT.lower()]
    finally:
        box.close()


def test_when_azure_answers_for_no_vault_the_problem_names_each(database_url, fleet_url):
    box = boxed(database_url, fleet_url, FleetSettings(vault_ids=[WEST_VAULT, vault_id(0)]))
    failing = {"rate": 1.0, "status": 503, "methods": ["GET"]}
    httpx.put(f"{fleet_url}/_emulator/faults/transient", json=failing).raise_for_status()
    try:
        with TestClient(create_app(box), headers={"Authorization": f"Bearer {make_key(box)}"}) as api:
            answer = api.get("/vms")
            assert answer.status_code == 503
            assert answer.headers["content-type"] == "application/problem+json"
            assert "west-vault" in answer.json()["detail"]
            assert "fleet-vault-01" in answer.json()["detail"]
    finally:
        httpx.delete(f"{fleet_url}/_emulator/faults").raise_for_status()
        box.close()


def test_our_jobs_show_on_their_vms_until_they_end_protected_or_failed(database_url, fleet_url):
    fresh = FleetSettings(vault_ids=[WEST_VAULT], snapshot_ttl_seconds=0.01, snapshot_max_age_seconds=0.01)
    box = boxed(database_url, fleet_url, fresh)
    failure = {"vm": "west-05", "task": "ProtectReplicaTask", "code": "151195", "times": 1}
    httpx.post(f"{fleet_url}/_emulator/faults/job-failure", json=failure).raise_for_status()
    try:
        with TestClient(create_app(box), headers={"Authorization": f"Bearer {make_key(box)}"}) as api:
            accepted = api.post("/reprotect", json={"selector": {"name_prefix": "west"}})
            assert accepted.status_code == 202, accepted.text
            [request] = accepted.json()["requests"]
            assert request["vm_count"] == 2
            vms = {vm["vm_name"]: vm for vm in api.get("/vms").json()["items"]}
            assert {vms[n]["reprotect_status"] for n in ("west-04", "west-05")} == {"in_progress"}
            assert vms["west-04"]["job"]["state"] == "accepted"
            assert vms["west-04"]["job"]["request_id"] == request["request_id"]
            assert vms["west-04"]["job"]["href"] == f"/jobs/{vms['west-04']['job']['id']}"
            in_flight = api.get("/vms/summary", params={"group_by": "vault"}).json()
            etas = [vms[n]["job"]["eta"] for n in ("west-04", "west-05") if vms[n]["job"]["eta"]]
            assert in_flight["eta"] == (max(etas) if etas else None)
            assert in_flight["groups"][0]["eta"] == in_flight["eta"]
            drive(box, timeout=30)
            lists_before = _item_lists(fleet_url)
            after = {vm["vm_name"]: vm for vm in api.get("/vms").json()["items"]}
            # west-04 now lives in the other region's fabric: the vault's list comes in two pages (nextLink).
            assert _item_lists(fleet_url) - lists_before == 2
            assert after["west-04"]["reprotect_status"] == "protected"
            assert after["west-04"]["job"]["state"] == "protected"
            assert (after["west-05"]["reprotect_status"], after["west-05"]["reason_code"]) == ("failed", "151195")
            summary = api.get("/vms/summary").json()
            assert (summary["counts"]["protected"], summary["counts"]["failed"]) == (2, 1)
            assert summary["top_failure_codes"] == [{"code": "151195", "count": 1}]
            assert summary["eta"] is None
    finally:
        box.close()


def _item_lists(url: str) -> int:
    """How many ReplicationProtectedItems_List pages the emulator has answered."""
    return int(httpx.get(f"{url}/_emulator/stats").json()["calls"].get("ReplicationProtectedItems_List", 0))


def test_a_job_asked_with_the_vault_id_in_another_case_shows_on_its_vm(api):
    """ARM ids are case-insensitive: the VM's job is found whatever case the caller wrote its vault in."""
    [vm] = api.get("/vms", params={"vault_id": WEST_VAULT, "name_prefix": "west-04"}).json()["items"]
    assert vm["job"] is None
    shouted = vm["item_id"].replace("/vaults/west-vault/", "/vaults/WEST-VAULT/")
    assert shouted != vm["item_id"]
    accepted = api.post("/reprotect", json={"vms": [{"item_id": shouted}]})
    assert accepted.status_code == 202, accepted.text
    [job] = api.get("/jobs").json()["items"]
    [seen] = api.get("/vms", params={"vault_id": WEST_VAULT, "name_prefix": "west-04"}).json()["items"]
    assert (seen["reprotect_status"], seen["job"]["id"]) == ("in_progress", job["id"])


def test_the_decided_fleet_serves_every_caller_briefly_but_selectors_decide_afresh(database_url, fleet_url):
    kept = FleetSettings(vault_ids=[WEST_VAULT], view_ttl_seconds=1.0)
    box = boxed(database_url, fleet_url, kept)
    try:
        with TestClient(create_app(box), headers={"Authorization": f"Bearer {make_key(box)}"}) as api:
            before = {vm["vm_name"]: vm for vm in api.get("/vms").json()["items"]}
            assert before["west-04"]["reprotect_status"] == "needs_reprotect"
            accepted = api.post("/reprotect", json={"vms": [{"item_id": before["west-04"]["item_id"]}]})
            assert accepted.status_code == 202, accepted.text

            kept_view = {vm["vm_name"]: vm for vm in api.get("/vms").json()["items"]}
            assert kept_view["west-04"]["reprotect_status"] == "needs_reprotect"  # the same decided fleet
            planned = api.post("/reprotect", params={"dry_run": "true"}, json={"selector": {"name_prefix": "west"}})
            assert "west-04" not in {vm["vm_name"] for vm in planned.json()["vms"]}  # a selector reads our jobs now

            time.sleep(1.1)
            stale = {vm["vm_name"]: vm for vm in api.get("/vms").json()["items"]}
            assert stale["west-04"]["reprotect_status"] == "needs_reprotect"  # served while decided again
            after = _eventually(api, lambda vms: vms["west-04"]["reprotect_status"] == "in_progress")
            assert after["west-04"]["job"]["id"] == accepted.json()["jobs"][0]["id"]
    finally:
        box.close()


def _eventually(api: TestClient, seen: Callable[[dict[str, dict]], bool], *, params: dict | None = None) -> dict:
    """``GET /vms`` (by VM name) once ``seen`` holds for it, polled for up to 10 s."""
    deadline = time.monotonic() + 10
    while True:
        answer = api.get("/vms", params=params or {})
        assert answer.status_code == 200, answer.text
        vms = {vm["vm_name"]: vm for vm in answer.json()["items"]}
        if seen(vms):
            return vms
        assert time.monotonic() < deadline, f"GET /vms never showed it: {vms}"
        time.sleep(0.05)


def test_a_change_in_azure_shows_in_the_inventory_after_the_background_refresh(database_url, fleet_url):
    """The kept inventory answers at once, however stale (up to its hard limit), while it is renewed behind
    the callers: an item Azure changed shows a moment later, never by making a caller wait."""
    swr = FleetSettings(
        vault_ids=[WEST_VAULT],
        snapshot_ttl_seconds=0.2,
        snapshot_max_age_seconds=60,
        view_ttl_seconds=0.2,
        view_max_age_seconds=60,
    )
    box = boxed(database_url, fleet_url, swr)
    try:
        with TestClient(create_app(box), headers={"Authorization": f"Bearer {make_key(box)}"}) as api:
            first = api.get("/vms").json()  # a cold start: decided now
            before = {vm["vm_name"]: vm for vm in first["items"]}
            assert (before["west-02"]["reprotect_status"], before["west-02"]["reason_code"]) == (
                "not_eligible",
                "failover_not_committed",
            )
            _commit_failover(fleet_url, before["west-02"]["item_id"])  # Azure changes, behind our back
            for _ in range(2):  # the second time, the vault's new list has been read: still the kept view
                time.sleep(0.3)  # past both TTLs
                page = api.get("/vms").json()
                kept = {vm["vm_name"]: vm for vm in page["items"]}
                assert kept["west-02"]["reason_code"] == "failover_not_committed"  # answered from the kept view
                assert page["read_at"] == first["read_at"]  # and saying how old its list is
            after = _eventually(api, lambda vms: vms["west-02"]["reprotect_status"] == "needs_reprotect")
            assert api.get("/vms").json()["read_at"] > first["read_at"]
            assert after["west-02"]["protection_state"] == "UnplannedFailoverCommitted"
            assert "SwitchProtection" in after["west-02"]["allowed_operations"]
            summary = api.get("/vms/summary").json()
            assert summary["top_not_eligible_reasons"] == [{"code": "source_vm_deleted", "count": 1}]
    finally:
        box.close()


def _commit_failover(url: str, item_id: str) -> None:
    """Commit the item's failover in Azure (the emulator), through the SDK as an operator's tool would."""
    parts = item_id.split("/")
    sub, group, vault, fabric, container, name = (parts[i] for i in (2, 4, 8, 10, 12, 14))
    client = sdk_client(url, sub)
    try:
        poller = client.replication_protected_items.begin_failover_commit(
            group, vault, fabric, container, name, polling_interval=0.05
        )
        assert poller.result(timeout=30).properties.protection_state == "UnplannedFailoverCommitted"
    finally:
        client.close()


def test_a_vm_our_job_protected_is_protected_even_while_azures_copy_is_older(database_url, fleet_url):
    box = boxed(database_url, fleet_url, FleetSettings(vault_ids=[WEST_VAULT]))  # items kept 60 s
    try:
        with TestClient(create_app(box), headers={"Authorization": f"Bearer {make_key(box)}"}) as api:
            before = {vm["vm_name"]: vm for vm in api.get("/vms").json()["items"]}  # Azure's copy read now
            assert before["west-04"]["reprotect_status"] == "needs_reprotect"
            accepted = api.post("/reprotect", json={"vms": [{"item_id": before["west-04"]["item_id"]}]})
            assert accepted.status_code == 202, accepted.text
            drive(box, timeout=30)
            job = api.get(f"/jobs/{accepted.json()['jobs'][0]['id']}").json()
            assert job["state"] == "protected"

            after = {vm["vm_name"]: vm for vm in api.get("/vms").json()["items"]}
            assert after["west-04"]["protection_state"] != "Protected"  # still the copy read before the job
            assert after["west-04"]["reprotect_status"] == "protected"
            assert after["west-04"]["job"]["state"] == "protected"
    finally:
        box.close()


@pytest.mark.parametrize(
    "view_ttl_seconds",
    [
        pytest.param(60.0, id="kept-all-test-long"),
        # Stale almost at once: callers are served kept fleets while background decisions renew them.
        pytest.param(0.05, id="renewed-behind-callers"),
    ],
)
def test_callers_with_other_scopes_never_share_what_the_kept_fleet_shows(database_url, fleet_url, view_ttl_seconds):
    kept = FleetSettings(
        discover_in_subscriptions=SUBSCRIPTIONS, view_ttl_seconds=view_ttl_seconds, view_max_age_seconds=60.0
    )
    box = boxed(database_url, fleet_url, kept)
    keys = {
        "everything": make_key(box, role="reader", name="everything"),
        **{sub: make_key(box, role="reader", scopes=(f"/subscriptions/{sub}",), name=sub) for sub in SUBSCRIPTIONS},
    }
    try:
        with TestClient(create_app(box)) as api:

            def seen(who: str) -> tuple[set[str], dict]:
                headers = {"Authorization": f"Bearer {keys[who]}"}
                ids, cursor = set(), None
                while True:  # every page, through the cursors
                    page = api.get(
                        "/vms", params={"limit": 40, **({"cursor": cursor} if cursor else {})}, headers=headers
                    )
                    assert page.status_code == 200, page.text
                    ids |= {vm["item_id"] for vm in page.json()["items"]}
                    cursor = page.json()["next_cursor"]
                    if cursor is None:
                        return ids, api.get("/vms/summary", headers=headers).json()

            for _ in range(2):  # the second round is served from the kept fleet and what was derived from it
                everything, summary = seen("everything")
                assert summary["total"] == len(everything)
                parts = []
                for sub in SUBSCRIPTIONS:
                    mine, my_summary = seen(sub)
                    assert mine
                    assert all(f"/subscriptions/{sub}/".lower() in item.lower() for item in mine)
                    assert my_summary["total"] == len(mine)
                    parts.append(mine)
                assert set().union(*parts) == everything
                assert sum(len(p) for p in parts) == len(everything)

            # Every scope at once, from threads, while the kept fleets are served and renewed.
            def each_time(who: str) -> list[tuple[set[str], int]]:
                return [(ids, summary["total"]) for ids, summary in (seen(who) for _ in range(3))]

            with ThreadPoolExecutor(max_workers=len(keys)) as pool:
                rounds = dict(zip(keys, pool.map(each_time, keys), strict=True))
            for who, answers in rounds.items():
                for ids, total in answers:
                    assert total == len(ids)
                    if who == "everything":
                        assert ids == everything
                    else:
                        assert ids
                        assert all(f"/subscriptions/{who}/".lower() in item.lower() for item in ids)
    finally:
        box.close()
