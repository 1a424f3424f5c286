"""Several sweepers (schedulers, or a worker rung by the API) moving one campaign at once: a step starts once,
whoever wins; a step that cannot start says why on the campaign and is tried again later, not at every sweep."""

from __future__ import annotations

import threading
import uuid
from datetime import timedelta

from sqlalchemy import func, select

from app.bootstrap import bootstrap
from app.campaign import engine
from app.db import transaction, utcnow
from app.job import service as jobs
from app.job.models import Job
from cli.stack import free_port
from tests.conftest import service_settings
from tests.drive import drive


def test_sweepers_racing_over_one_campaign_start_each_step_once(api, container, emulator, demo):
    items = demo["committed"][:3]
    body = {
        "name": "raced",
        "vms": [{"vault_id": demo["vault_id"], "vm_name": item["vm_name"]} for item in items],
        "test_networks": {"eastasia": demo["test_network"]},
        "drill_approval": "auto",
    }
    created = api.post("/campaigns", json=body)
    assert created.status_code == 201, created.text
    campaign_id = uuid.UUID(created.json()["id"])
    engine.advance(container, campaign_id=campaign_id)  # what the worker the API rang does: the reprotect starts
    drive(container)  # the reprotect step's jobs end; its next step is due

    start = threading.Barrier(4)
    errors: list[BaseException] = []

    def sweeper() -> None:
        try:
            start.wait()
            for _ in range(3):
                engine.sweep(container, now=utcnow())
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=sweeper) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert not errors, errors

    with transaction(container.sessions) as session:
        per_kind = dict(session.execute(select(Job.kind, func.count()).group_by(Job.kind)).all())
    assert per_kind == {"reprotect": 3, "drill": 3}  # the drill step started once, one job per VM

    for due in jobs.sweep(container, now=utcnow(), redispatch_after=0):
        jobs.advance(container, job_id=due, worker="test-worker")
    drive(container)
    campaign = api.get(f"/campaigns/{campaign_id}").json()
    drill = campaign["steps"][1]
    assert drill["counts"] == {"protected": 3, "skipped": 0, "refused": 0}
    calls = emulator.get("/_emulator/stats").json()["calls_by_item"]
    assert [calls[item["name"]]["ReplicationProtectedItems_TestFailover"] for item in items] == [1, 1, 1]


def test_a_step_azure_will_not_let_start_says_why_on_the_campaign_and_starts_once_it_can(
    api, container, demo, database_url
):
    item = demo["committed"][0]
    body = {
        "name": "blocked",
        "vms": [{"vault_id": demo["vault_id"], "vm_name": item["vm_name"]}],
        "test_networks": {"eastasia": demo["test_network"]},
    }
    created = api.post("/campaigns", json=body)
    assert created.status_code == 201, created.text
    campaign_id = uuid.UUID(created.json()["id"])
    engine.advance(container, campaign_id=campaign_id)  # the reprotect starts
    drive(container)  # the reprotect step's job ends; the drill is next

    unreachable = bootstrap(service_settings(database_url, f"http://127.0.0.1:{free_port()}"))  # Azure unreachable
    try:
        engine.sweep(unreachable, now=utcnow())
    finally:
        unreachable.close()
    blocked = api.get(f"/campaigns/{campaign_id}").json()
    assert blocked["state"] == "running"
    assert blocked["steps"][1]["state"] == "pending"
    assert blocked["blocked_reason"]
    assert engine.sweep(container, now=utcnow()) == []  # not hammered at every sweep: tried again later

    assert engine.sweep(container, now=utcnow() + timedelta(seconds=engine.BLOCKED_RETRY_SECONDS + 1))
    started = api.get(f"/campaigns/{campaign_id}").json()
    assert started["steps"][1]["state"] == "running"
    assert started["blocked_reason"] is None
