"""Refusals named exactly: a VM whose failed-over VM was deleted is failed_over_vm_not_found, a cache storage account outside the region the VM runs in is cache_storage_account_wrong_region; the 422 lists only those VMs and nothing is created."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta

import httpx
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select, update

from app.api.app import create_app
from app.bootstrap import bootstrap
from app.db import transaction, utcnow
from app.job.models import Job, ReprotectRequest
from emulator.app import create_app as create_emulator
from tests.api.conftest import make_key
from tests.api.worker_support import SWITCH, accept, make_due, row, step
from tests.conftest import service_settings
from tests.drive import drive
from tests.emulator.support import serve_in_thread

STORAGE = "Microsoft.Storage/storageAccounts"


def _nothing_created(container) -> bool:
    with transaction(container.sessions) as session:
        requests = session.scalar(select(func.count()).select_from(ReprotectRequest))
        jobs = session.scalar(select(func.count()).select_from(Job))
    return (requests, jobs) == (0, 0)


def _vms(scenario: dict) -> dict[str, dict]:
    return {i["vm_name"]: i for i in scenario["subscriptions"][0]["vaults"][0]["items"]}


def _storage_accounts(emulator_url: str, subscription: str) -> list[dict]:
    """Every storage account of the subscription, read from ARM like any client would."""
    answer = httpx.get(
        f"{emulator_url}/subscriptions/{subscription}/providers/{STORAGE}",
        params={"api-version": "2023-05-01"},
        headers={"Authorization": "Bearer test"},
    )
    answer.raise_for_status()
    return answer.json()["value"]


def test_a_cache_storage_account_in_the_wrong_region_is_refused_naming_that_vm(api, container, emulator, demo):
    web, app = demo["committed"][:2]
    plan = api.post("/reprotect", params={"dry_run": "true"}, json={"vms": [{"item_id": web["id"]}]}).json()
    runs_in = plan["plans"][0]["direction"]["source_location"]  # the cache must be where the VM runs now
    accounts = _storage_accounts(str(emulator.base_url), demo["vault_id"].split("/")[2])
    elsewhere = next(a["id"] for a in accounts if a["location"].lower() != runs_in.lower())
    right_here = next(a["id"] for a in accounts if a["location"].lower() == runs_in.lower())

    refused = api.post(
        "/reprotect",
        json={"vms": [{"item_id": web["id"], "cache_storage_account_id": elsewhere}, {"item_id": app["id"]}]},
    )

    assert refused.status_code == 422, refused.text
    assert refused.headers["content-type"] == "application/problem+json"
    problems = refused.json()["vms"]
    assert [(p["vm"], p["code"]) for p in problems] == [(web["id"], "cache_storage_account_wrong_region")]
    assert runs_in.lower() in problems[0]["message"].lower()
    assert _nothing_created(container)
    assert emulator.get("/_emulator/stats").json()["calls"].get(SWITCH, 0) == 0
    # The same VM with an existing account in the region it runs in is planned with that account.
    ok = api.post(
        "/reprotect",
        params={"dry_run": "true"},
        json={"vms": [{"item_id": web["id"], "cache_storage_account_id": right_here}]},
    )
    assert ok.status_code == 200, ok.text
    assert ok.json()["plans"][0]["cache_storage_account"] == {
        "id": right_here,
        "name": right_here.rsplit("/", 1)[-1],
        "status": "existing",
    }


@pytest.fixture
def own_emulator() -> Iterator[tuple[str, object]]:
    """An emulator served over HTTP from this process, so a test can change its world (delete a VM)."""
    app = create_emulator("demo", time_scale=20000, seed=7)
    with serve_in_thread(app) as url:
        yield url, app.state.emulator


@pytest.fixture
def own_api(container, own_emulator, database_url) -> Iterator[tuple[TestClient, object, object]]:
    url, emu = own_emulator
    box = bootstrap(service_settings(database_url, url))
    try:
        with TestClient(create_app(box), headers={"Authorization": f"Bearer {make_key(box)}"}) as client:
            yield client, box, emu
    finally:
        box.close()


def _delete_failed_over_vm(emu, vm_name: str) -> str:
    vault = next(iter(emu.world.vaults.values()))
    item = next(i for i in vault.items.values() if i.vm_name == vm_name)
    assert emu.world.delete(item.running_vm_id) is not None
    return item.running_vm_id


def test_a_vm_whose_failed_over_vm_was_deleted_is_refused_naming_that_vm(own_api):
    api, box, emu = own_api
    vms = _vms(emu.describe())
    _delete_failed_over_vm(emu, "web-01")

    refused = api.post("/reprotect", json={"vms": [{"item_id": vms["web-01"]["id"]}, {"item_id": vms["app-01"]["id"]}]})

    assert refused.status_code == 422, refused.text
    problems = refused.json()["vms"]
    assert [(p["vm"], p["code"]) for p in problems] == [(vms["web-01"]["id"], "failed_over_vm_not_found")]
    assert "Disable replication" in problems[0]["message"]
    assert _nothing_created(box)
    assert emu.stats.calls.get(SWITCH, 0) == 0


def test_a_worker_revalidating_a_stale_plan_fails_a_job_whose_failed_over_vm_was_deleted(own_api):
    api, box, emu = own_api
    web = _vms(emu.describe())["web-01"]
    job_id = accept(api, web)
    drive(box, until_state="validating", job_id=job_id)
    with transaction(box.sessions) as session:  # accepted long ago: the worker resolves the whole plan again
        session.execute(update(Job).where(Job.id == job_id).values(created_at=utcnow() - timedelta(minutes=30)))
    _delete_failed_over_vm(emu, "web-01")

    make_due(box, job_id)
    step(box, job_id)

    job = row(box, job_id)
    assert (job.state, job.error_code, job.failed_in) == ("failed", "failed_over_vm_not_found", "validating")
    assert emu.stats.calls.get(SWITCH, 0) == 0
