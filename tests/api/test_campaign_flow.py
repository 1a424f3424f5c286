"""Campaigns through the HTTP API against the emulator: the whole way home for a set of VMs in waves, with a
drill and its manual gate, health-check gates, pause and resume, abort after the drill, one VM retried alone,
and two campaigns over one VM."""

from __future__ import annotations

import uuid

from fastapi.testclient import TestClient

from app.api.app import create_app
from app.campaign import engine
from app.db import utcnow
from app.job import service as jobs
from tests.api.conftest import make_key
from tests.drive import drive, drive_campaign
from tests.receiver import running_receiver

WAITING = {"waiting_gate", "stopped", "completed", "aborted"}
OVER = {"stopped", "completed", "aborted"}


def _subscription(demo) -> str:
    return demo["vault_id"].split("/resourceGroups/")[0]


def _networks(demo) -> dict[str, str]:
    """East Asia's isolated test network: where the VMs run once home, so where their drills run."""
    return {"eastasia": demo["test_network"]}


def _body(demo, items, *, waves=None, **extra) -> dict:
    waves = waves or [1] * len(items)
    vms = [
        {"vault_id": demo["vault_id"], "vm_name": item["vm_name"], "wave": wave}
        for item, wave in zip(items, waves, strict=True)
    ]
    return {"name": "home to East Asia", "vms": vms, "test_networks": _networks(demo), **extra}


def _item_state(emulator, item) -> dict:
    vault = emulator.get("/_emulator/scenario").json()["subscriptions"][0]["vaults"][0]
    return next(i for i in vault["items"] if i["name"] == item["name"])


def _calls(emulator, item) -> dict:
    return emulator.get("/_emulator/stats").json()["calls_by_item"].get(item["name"], {})


def _created(api, body) -> dict:
    created = api.post("/campaigns", json=body)
    assert created.status_code == 201, created.text
    assert created.headers["location"] == f"/campaigns/{created.json()['id']}"
    return created.json()


def _run(api, container, campaign, until) -> dict:
    drive_campaign(container, uuid.UUID(campaign["id"]), until=until)
    return api.get(f"/campaigns/{campaign['id']}").json()


def test_a_campaign_takes_committed_vms_home_in_waves_through_a_drill_and_its_manual_gate(
    api, container, emulator, demo
):
    items = demo["committed"][:2]
    originals = {item["name"]: _item_state(emulator, item) for item in items}
    campaign = _created(api, _body(demo, items, waves=[1, 2]))
    assert [(s["phase"], s["wave"], s["gate"]["kind"]) for s in campaign["steps"]] == [
        ("reprotect", None, "none"),
        ("drill", None, "manual"),
        ("drill_cleanup", None, "none"),
        ("failover", 1, "auto"),
        ("failover", 2, "auto"),
        ("commit", None, "none"),
        ("reprotect_back", None, "none"),
    ]
    assert campaign["state"] == "running"
    assert campaign["phase"] == "reprotect"
    assert campaign["eta_at"] is not None

    waiting = _run(api, container, campaign, WAITING)
    assert (waiting["state"], waiting["phase"]) == ("waiting_gate", "drill"), waiting
    drill = waiting["steps"][1]
    assert drill["state"] == "done"
    assert drill["counts"] == {"protected": 2, "skipped": 0, "refused": 0}
    assert drill["gate"]["state"] == "pending"
    for item in items:  # the test VMs run in the isolated network, waiting for the operator's verdict
        assert _item_state(emulator, item)["test_failover_state"] == "WaitingForCompletion"
    refused = api.post(f"/campaigns/{campaign['id']}/approve", json={"reason": ""})
    assert refused.status_code == 422  # a reason is required

    approved = api.post(f"/campaigns/{campaign['id']}/approve", json={"reason": "app team checked the test VMs"})
    assert approved.status_code == 200, approved.text
    gate = approved.json()["steps"][1]["gate"]
    assert (gate["state"], gate["reason"]) == ("passed", "app team checked the test VMs")
    assert gate["decided_by"]
    assert api.post(f"/campaigns/{campaign['id']}/approve", json={"reason": "again"}).status_code == 409

    done = _run(api, container, campaign, OVER)
    assert done["state"] == "completed", done
    assert [s["state"] for s in done["steps"]] == ["done"] * 7
    assert done["eta_at"] is None
    assert done["finished_at"] is not None
    for vm in done["vms"]:
        phases = vm["phases"]
        assert list(phases) == ["reprotect", "drill", "drill_cleanup", "failover", "commit", "reprotect_back"]
        assert {p["state"] for p in phases.values()} == {"protected"}
    for item in items:  # protected again from East Asia, under the original container
        home = _item_state(emulator, item)
        original = originals[item["name"]]
        assert (home["protection_state"], home["active_location"]) == ("Protected", "Primary")
        assert (home["location"], home["container"]) == (original["location"], original["container"])
        calls = _calls(emulator, item)
        assert calls["ReplicationProtectedItems_TestFailover"] == 1
        assert calls["ReplicationProtectedItems_TestFailoverCleanup"] == 1
        assert calls["ReplicationProtectedItems_UnplannedFailover"] == 1
        assert calls["ReplicationProtectedItems_FailoverCommit"] == 1
        assert calls["ReplicationProtectionContainers_SwitchProtection"] == 2
    # wave 2 failed over only after wave 1 was done
    first, second = (
        next(s for s in done["steps"] if s["phase"] == "failover" and s["wave"] == wave) for wave in (1, 2)
    )
    assert second["started_at"] >= first["finished_at"]
    listed = api.get("/campaigns").json()["items"]
    assert [(c["id"], c["state"], c["vm_count"]) for c in listed] == [(campaign["id"], "completed", 2)]


def _step(campaign: dict, phase: str, wave: int | None = None) -> dict:
    return next(s for s in campaign["steps"] if s["phase"] == phase and s["wave"] == wave)


def _fail_next_failover(emulator, item) -> None:
    """The VM's next UnplannedFailover ASR job fails at a task with 150097 (the emulator's fault)."""
    emulator.post(
        "/_emulator/faults/job-failure",
        json={"vm": item["vm_name"], "operation": "UnplannedFailover", "code": "150097", "times": 1},
    ).raise_for_status()


def test_a_vm_that_fails_its_failover_stops_the_campaign_and_is_retried_alone(api, container, emulator, demo):
    failing, fine = demo["committed"][:2]
    _fail_next_failover(emulator, failing)
    campaign = _created(api, _body(demo, [failing, fine], drill=False, test_networks={}))

    stopped = _run(api, container, campaign, OVER)
    assert (stopped["state"], stopped["phase"], stopped["wave"]) == ("stopped", "failover", 1), stopped
    assert failing["vm_name"] in stopped["stop_reason"]
    assert fine["vm_name"] not in stopped["stop_reason"]
    by_vm = {vm["vm_name"]: vm["phases"] for vm in stopped["vms"]}
    assert by_vm[failing["vm_name"]]["failover"]["state"] == "failed"
    assert by_vm[failing["vm_name"]]["failover"]["error"]["code"] == "150097"
    assert by_vm[fine["vm_name"]]["failover"]["state"] == "protected"  # the other VM of the wave is not held back
    assert _step(stopped, "commit")["state"] == "pending"  # nothing irreversible started past the failure
    assert api.post(f"/campaigns/{campaign['id']}/resume").status_code == 200
    assert _run(api, container, campaign, OVER)["state"] == "stopped"  # the step judged again: still failed
    not_failed = api.post(f"/campaigns/{campaign['id']}/retry", json={"vm_name": fine["vm_name"]})
    assert not_failed.status_code == 409
    assert not_failed.json()["code"] == "vm_not_failed"

    retried = api.post(f"/campaigns/{campaign['id']}/retry", json={"vm_name": failing["vm_name"]})
    assert retried.status_code == 200, retried.text
    assert retried.json()["state"] == "running"
    done = _run(api, container, campaign, OVER)
    assert done["state"] == "completed", done
    assert _calls(emulator, failing)["ReplicationProtectedItems_UnplannedFailover"] == 2  # one per attempt
    assert _calls(emulator, fine)["ReplicationProtectedItems_UnplannedFailover"] == 1  # never sent again
    job = api.get(next(vm for vm in done["vms"] if vm["vm_name"] == failing["vm_name"])["phases"]["failover"]["href"])
    history = [(h["attempt"], h["to_state"]) for h in job.json()["history"]]
    assert (1, "failed") in history
    assert history[-1] == (2, "protected")


def test_a_failing_health_check_stops_the_campaign_before_any_failover_with_the_reason(api, container, emulator, demo):
    item = demo["committed"][0]
    with running_receiver() as application:
        application.default_status = 503
        checks = [{"url": application.url, "expected_status": 200}]
        campaign = _created(api, _body(demo, [item], drill_approval="auto", drill_health_checks=checks))
        stopped = _run(api, container, campaign, OVER)
        assert (stopped["state"], stopped["phase"]) == ("stopped", "drill"), stopped
        assert f"{application.url} answered 503 (expected 200)" in stopped["stop_reason"]
        gate = _step(stopped, "drill")["gate"]
        assert (gate["kind"], gate["state"]) == ("http", "failed")
        assert [(r["status"], r["passed"]) for r in gate["results"]] == [(503, False)]
        assert "ReplicationProtectedItems_UnplannedFailover" not in _calls(emulator, item)

        application.default_status = 200  # the application is fixed: resume runs the checks again
        resumed = api.post(f"/campaigns/{campaign['id']}/resume")
        assert resumed.status_code == 200, resumed.text
        done = _run(api, container, campaign, OVER)
        assert done["state"] == "completed", done
        assert [r["passed"] for r in _step(done, "drill")["gate"]["results"]] == [True]
        assert [r.path for r in application.received] == ["/hooks", "/hooks"]


def _round(container) -> None:
    """One sweep of campaigns and of due jobs, each due job advanced once."""
    engine.sweep(container, now=utcnow())
    for due_id in jobs.sweep(container, now=utcnow(), redispatch_after=0):
        jobs.advance(container, job_id=due_id, worker="test-worker")


def test_a_campaign_paused_in_the_middle_of_a_wave_lets_it_finish_and_starts_nothing_more(
    api, container, emulator, demo
):
    first, second = demo["committed"][:2]
    campaign = _created(api, _body(demo, [first, second], waves=[1, 2], drill=False, test_networks={}))
    url = f"/campaigns/{campaign['id']}"
    for _ in range(2000):  # until wave 1's failover runs in Azure
        _round(container)
        now = api.get(url).json()
        if _step(now, "failover", 1)["state"] == "running":
            break
    else:
        raise AssertionError("wave 1 never started")
    paused = api.post(f"{url}/pause")
    assert paused.status_code == 200, paused.text
    assert paused.json()["state"] == "paused"
    assert api.post(f"{url}/approve", json={"reason": "x"}).json()["code"] == "campaign_state_conflict"

    drive(container)  # the operation already sent finishes...
    for _ in range(5):
        engine.sweep(container, now=utcnow())
    held = api.get(url).json()
    assert held["state"] == "paused"
    wave1 = held["vms"][0]["phases"]["failover"]
    assert wave1["state"] == "protected"
    assert _step(held, "failover", 2)["state"] == "pending"  # ...and no new one starts
    assert "ReplicationProtectedItems_UnplannedFailover" not in _calls(emulator, second)

    assert api.post(f"{url}/resume").json()["state"] == "running"
    done = _run(api, container, campaign, OVER)
    assert done["state"] == "completed", done
    assert _calls(emulator, second)["ReplicationProtectedItems_UnplannedFailover"] == 1


def test_an_abort_after_the_drill_cleans_the_test_up_and_leaves_the_vms_protected_in_reverse(
    api, container, emulator, demo
):
    item = demo["committed"][0]
    campaign = _created(api, _body(demo, [item]))
    assert _run(api, container, campaign, WAITING)["state"] == "waiting_gate"
    assert _item_state(emulator, item)["test_failover_state"] == "WaitingForCompletion"

    aborting = api.post(f"/campaigns/{campaign['id']}/abort", json={"reason": "owners postponed the failback"})
    assert aborting.status_code == 200, aborting.text
    assert aborting.json()["state"] in {"aborting", "aborted"}
    aborted = _run(api, container, campaign, OVER)
    assert aborted["state"] == "aborted", aborted
    assert "owners postponed the failback" in aborted["stop_reason"]
    assert [s["state"] for s in aborted["steps"]][:3] == ["done", "done", "done"]  # reprotect, drill, cleanup
    assert {s["state"] for s in aborted["steps"][3:]} == {"pending"}
    state = _item_state(emulator, item)
    assert (state["protection_state"], state["active_location"]) == ("Protected", "Primary")  # in reverse
    assert state["test_failover_state"] == "None"  # the test VM is gone
    calls = _calls(emulator, item)
    assert calls["ReplicationProtectedItems_TestFailoverCleanup"] == 1
    assert "ReplicationProtectedItems_UnplannedFailover" not in calls
    assert api.post(f"/campaigns/{campaign['id']}/resume").status_code == 409

    again = api.post("/campaigns", json=_body(demo, [item], drill=False, test_networks={}))
    assert again.status_code == 201, again.text  # an ended campaign lets its VMs go
    home = _run(api, container, again.json(), OVER)
    assert home["state"] == "completed", home
    assert home["vms"][0]["phases"]["reprotect"] == {"state": "skipped", "reason": "already protected in reverse"}


def test_two_campaigns_over_one_vm_the_second_is_refused_naming_the_first(api, container, demo):
    first, second = demo["committed"][:2]
    campaign = _created(api, _body(demo, [first]))
    refused = api.post("/campaigns", json=_body(demo, [second, first]))
    assert refused.status_code == 409, refused.text
    problem = refused.json()
    assert [(vm["vm"], vm["code"]) for vm in problem["vms"]] == [(first["vm_name"], "vm_in_campaign")]
    assert campaign["id"] in problem["vms"][0]["message"]
    assert [c["id"] for c in api.get("/campaigns").json()["items"]] == [campaign["id"]]  # nothing else created


def test_a_dry_run_shows_the_plan_and_the_refusals_and_creates_nothing(api, container, demo):
    committed = demo["committed"][0]
    not_committed = demo["not_committed"]
    body = _body(demo, [committed, not_committed], waves=[1, 2])
    planned = api.post("/campaigns", params={"dry_run": "true"}, json=body)
    assert planned.status_code == 200, planned.text
    plan = planned.json()
    assert [(s["phase"], s["wave"]) for s in plan["steps"]] == [
        ("reprotect", None),
        ("drill", None),
        ("drill_cleanup", None),
        ("failover", 1),
        ("failover", 2),
        ("commit", None),
        ("reprotect_back", None),
    ]
    assert plan["steps"][3]["vms"] == [committed["vm_name"]]
    assert plan["steps"][0]["estimated_seconds"] > 0
    assert plan["estimated_seconds"] == sum(s["estimated_seconds"] for s in plan["steps"])
    assert [(r["vm"], r["phase"], r["code"]) for r in plan["refused"]] == [
        (not_committed["vm_name"], "reprotect", "failover_not_committed")
    ]
    assert api.get("/campaigns").json()["items"] == []
    assert api.get("/jobs").json()["items"] == []


def test_a_campaign_outside_the_callers_scopes_is_not_found_and_not_listed(api, container, demo):
    campaign = _created(api, _body(demo, [demo["committed"][0]]))
    elsewhere = f"{_subscription(demo)}/resourceGroups/other-rg"
    key = make_key(container, role="reader", scopes=(elsewhere,), name="other team")
    with TestClient(create_app(container), headers={"Authorization": f"Bearer {key}"}) as reader:
        assert reader.get(f"/campaigns/{campaign['id']}").status_code == 404
        assert reader.get("/campaigns").json()["items"] == []
        assert reader.post(f"/campaigns/{campaign['id']}/pause").status_code == 403  # readers cannot act


def test_a_cancelled_job_is_retried_as_a_new_job_and_nothing_is_retried_while_paused(api, container, emulator, demo):
    item = demo["committed"][0]
    campaign = _created(api, _body(demo, [item], drill=False, test_networks={}))
    url = f"/campaigns/{campaign['id']}"
    engine.advance(container, campaign_id=uuid.UUID(campaign["id"]))  # the reprotect job is accepted, not yet sent
    job_href = api.get(url).json()["vms"][0]["phases"]["reprotect"]["href"]
    assert api.post(f"{job_href}/cancel").json()["state"] == "cancelled"
    stopped = _run(api, container, campaign, OVER)
    assert stopped["state"] == "stopped", stopped

    api.post(f"{url}/resume").raise_for_status()
    assert api.post(f"{url}/pause").status_code == 200
    paused = api.post(f"{url}/retry", json={"vm_name": item["vm_name"]})
    assert paused.status_code == 409, paused.text  # pause means nothing new starts, a retry included
    assert paused.json()["code"] == "campaign_state_conflict"
    api.post(f"{url}/resume").raise_for_status()
    _run(api, container, campaign, OVER)

    retried = api.post(f"{url}/retry", json={"vm_name": item["vm_name"].upper()})  # names compare case-blind
    assert retried.status_code == 200, retried.text
    new_href = retried.json()["vms"][0]["phases"]["reprotect"]["href"]
    assert new_href != job_href  # a cancelled job is not retried: a new one runs
    done = _run(api, container, campaign, OVER)
    assert done["state"] == "completed", done
    assert api.get(job_href).json()["state"] == "cancelled"


def test_an_operator_cannot_take_vms_outside_their_scopes_home(api, container, demo):
    elsewhere = f"{_subscription(demo)}/resourceGroups/other-rg"
    key = make_key(container, role="operator", scopes=(elsewhere,), name="other team")
    with TestClient(create_app(container), headers={"Authorization": f"Bearer {key}"}) as operator:
        refused = operator.post("/campaigns", json=_body(demo, [demo["committed"][0]]))
        assert refused.status_code == 403, refused.text
        assert refused.json()["code"] == "outside_scope"
        campaign = _created(api, _body(demo, [demo["committed"][0]]))
        assert operator.post(f"/campaigns/{campaign['id']}/pause").status_code == 404
    assert api.get("/campaigns").json()["items"][0]["id"] == campaign["id"]  # one campaign: the refused one left none
