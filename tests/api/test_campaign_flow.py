"""Campaigns through the HTTP API against the emulator: the whole way home for a set of VMs in waves, with a
drill and its manual gate, health-check gates, pause and resume, abort after the drill, one VM retried alone,
and two campaigns over one VM."""

from __future__ import annotations

import uuid

from tests.drive import drive_campaign

WAITING = {"waiting_gate", "stopped", "completed", "aborted"}
OVER = {"stopped", "completed", "aborted"}


def _subscription(demo) -> str:
    return demo["vault_id"].split("/resourceGroups/")[0]


def _networks(demo) -> dict[str, str]:
    """East Asia's isolated test network: where the VMs run once home, so where their drills run."""
    return {
        "eastasia": f"{_subscription(demo)}/resourceGroups/contoso-net-rg/providers/Microsoft.Network/"
        "virtualNetworks/contoso-vnet-ea-test"
    }


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
