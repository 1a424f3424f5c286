"""A fleet whose VMs all need the same new cache account, through the real SDK against the emulator: the
account is created exactly once (one Storage PUT), every VM is sent with it, and every VM ends protected.
And the database claim that makes it once: many workers claiming at the same moment, one wins."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import timedelta

import httpx
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import text

from app.api.app import create_app
from app.bootstrap import Container, bootstrap
from app.db import utcnow
from app.job.service import ClaimsInDb
from emulator.fleet import subscription_id
from tests.api.conftest import make_key
from tests.conftest import TABLES, service_settings
from tests.drive import drive
from tests.emulator_process import running_emulator


@pytest.fixture
def fleet(tmp_path) -> Iterator[str]:
    """``fleet:10:2``: the second subscription's five committed VMs, whose vault's group holds no cache account yet."""
    with running_emulator(tmp_path, seed=11, time_scale=20000, scenario="fleet:10:2") as url:
        yield url


@pytest.fixture
def box(database_url, fleet) -> Iterator[Container]:
    container = bootstrap(service_settings(database_url, fleet))
    with container.engine.begin() as connection:
        for table in TABLES:
            connection.execute(text(f"DELETE FROM {table}"))
    yield container
    container.close()


def test_a_fleet_needing_one_new_cache_account_creates_it_once_and_all_reach_protected(box, fleet):
    with httpx.Client(base_url=fleet, timeout=10) as emulator:
        vault = emulator.get("/_emulator/scenario").json()["subscriptions"][1]["vaults"][0]
        vms = [{"item_id": item["id"]} for item in vault["items"]]
        headers = {"Authorization": f"Bearer {make_key(box)}"}
        with TestClient(create_app(box), headers=headers) as api:
            planned = api.post("/reprotect?dry_run=true", json={"vms": vms})
            assert planned.status_code == 200, planned.text
            caches = {
                (p["cache_storage_account"]["id"], p["cache_storage_account"]["status"])
                for p in planned.json()["plans"]
            }
            assert len(caches) == 1  # a dry run names the one account, and says it is to be created
            ((cache_id, status),) = caches
            assert status == "new"
            assert f"/subscriptions/{subscription_id(1)}/resourceGroups/fleet-dr-rg/" in cache_id
            accepted = api.post("/reprotect", json={"vms": vms})
            assert accepted.status_code == 202, accepted.text
            drive(box, timeout=120)
            jobs = api.get("/jobs", params={"limit": 50, "view": "full"}).json()["items"]
        stats = emulator.get("/_emulator/stats").json()
    assert len(jobs) == 5
    assert {j["state"] for j in jobs} == {"protected"}
    assert stats["calls"].get("ARM_StorageAccounts_Create") == 1
    sent = {
        disk["primaryStagingAzureStorageAccountId"].lower()
        for bodies in stats["switch_protection_bodies"].values()
        for body in bodies
        for disk in body["properties"]["providerSpecificDetails"]["vmManagedDisks"]
    }
    assert sent == {cache_id.lower()}
    assert {j["plan"]["cache_storage_account"]["status"] for j in jobs} == {"existing"}


def test_workers_claiming_one_account_at_once_leave_exactly_one_creator(box):
    claims = ClaimsInDb(box.sessions)
    key = "default:sub/rg/southeastasia"
    barrier = threading.Barrier(8)
    won: list[str] = []

    def claim(owner: str) -> None:
        barrier.wait()
        if claims.claim(
            key, "/subscriptions/sub/resourceGroups/rg/providers/Microsoft.Storage/storageAccounts/a", owner
        ).mine:
            won.append(owner)

    threads = [threading.Thread(target=claim, args=(f"job-{n}",)) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(won) == 1
    assert claims.claim(key, "ignored", won[0]).mine  # the holder keeps it (its lease renewed)
    other = "job-x"
    assert not claims.claim(key, "ignored", other).mine
    claims.update(key, won[0], account_id="moved-on", state="ready")
    ready = claims.claim(key, "ignored", other)
    assert (ready.state, ready.account_id, ready.mine) == ("ready", "moved-on", False)
    claims.forget(key, "not-this-one")  # only the ready claim of the account that went is dropped
    assert claims.claim(key, "ignored", other).state == "ready"
    claims.forget(key, "moved-on")
    anew = claims.claim(key, "fresh", other)
    assert (anew.state, anew.account_id, anew.mine) == ("creating", "fresh", True)


def test_a_claim_whose_holder_went_silent_is_taken_over(box):
    now = [utcnow()]
    claims = ClaimsInDb(box.sessions)
    key = "default:sub/rg/ukwest"
    assert claims.claim(key, "acct", "job-a").mine
    assert not claims.claim(key, "acct", "job-b").mine
    with box.engine.begin() as connection:
        connection.execute(
            text("UPDATE cache_account_claims SET lease_until = :past"), {"past": now[0] - timedelta(seconds=1)}
        )
    taken = claims.claim(key, "acct", "job-b")
    assert taken.mine
    assert 0 <= taken.age_seconds < 60  # since the claim was first made, for the create's patience
    claims.release(key, "job-a")  # the old holder's late release changes nothing
    assert claims.claim(key, "acct", "job-b").mine
