"""The admin API: the scenario description clients discover ids from, reset, time control, stats keys,
and the generated fleet scenario."""

from __future__ import annotations

import subprocess
import sys

import httpx

from emulator.app import create_app
from tests.emulator.support import advance, item_json, serve_in_thread, submit, switch_body


def test_the_scenario_lists_vaults_fabrics_and_items_with_their_current_ids(admin):
    scenario = admin.get("/_emulator/scenario").json()
    assert scenario["name"] == "demo"
    assert scenario["time_scale"] == 1
    vault = scenario["subscriptions"][0]["vaults"][0]
    assert vault["id"].startswith("/subscriptions/")
    assert vault["id"].endswith("/providers/Microsoft.RecoveryServices/vaults/contoso-dr-vault")
    assert {f["location"] for f in vault["fabrics"]} == {"eastasia", "southeastasia"}
    assert {f["friendly_name"] for f in vault["fabrics"]} == {"East Asia", "Southeast Asia"}
    items = {i["vm_name"]: i for i in vault["items"]}
    expected = {"id", "name", "vm_name", "protection_state", "active_location", "source_vm"}
    assert all(expected <= set(i) for i in items.values())
    assert items["crm-01"]["source_vm"] == "moved"
    assert items["hr-01"]["source_vm"] == "deleted"
    assert items["web-01"]["source_vm"] == "present"
    assert items["intranet-01"]["protection_state"] == "Protected"
    assert items["batch-01"]["protection_state"] not in ("UnplannedFailoverCommitted", "Protected")


def test_reset_reloads_the_scenario_and_clears_stats_faults_and_the_clock(client, demo, admin):
    admin.post("/_emulator/faults/job-failure", json={"vm": "*", "task": "ProtectReplicaTask"}).raise_for_status()
    submit(client, demo, switch_body(demo, item_json(client, demo, "web-01")))
    advance(admin, 3600)
    assert admin.get("/_emulator/stats").json()["requests"] > 0
    admin.post("/_emulator/reset").raise_for_status()
    assert admin.get("/_emulator/stats").json()["requests"] == 0
    assert admin.get("/_emulator/faults").json()["job_failures"] == []
    assert admin.get("/_emulator/time-scale").json()["now"] < 60
    assert item_json(client, demo, "web-01")["properties"]["protectionState"] == "UnplannedFailoverCommitted"
    assert list(client.replication_jobs.list(demo.rg, demo.vault)) == []


def test_the_time_scale_changes_without_moving_time_back_and_advance_jumps_ahead(admin):
    before = admin.get("/_emulator/time-scale").json()["now"]
    admin.put("/_emulator/time-scale", json={"time_scale": 1000}).raise_for_status()
    admin.put("/_emulator/time-scale", json={"time_scale": 0.5}).raise_for_status()
    after = admin.get("/_emulator/time-scale").json()
    assert after["time_scale"] == 0.5
    assert after["now"] >= before
    assert advance(admin, 7200) >= after["now"] + 7200
    assert admin.put("/_emulator/time-scale", json={"time_scale": 0}).status_code == 400
    assert admin.post("/_emulator/advance", json={"seconds": -1}).status_code == 400


def test_the_throttle_and_fault_settings_are_readable_and_validated(admin):
    throttle = admin.put(
        "/_emulator/throttle",
        json={"reads": {"burst": 250, "per_second": 25}, "writes": {"burst": 200, "per_second": 10}},
    ).json()
    assert throttle == {
        "enabled": True,
        "reads": {"burst": 250, "per_second": 25},
        "writes": {"burst": 200, "per_second": 10},
        "storage_lists": {"burst": 100, "per_second": 100 / 300},
        "storage_reads": {"burst": 800, "per_second": 800 / 300},
    }
    assert admin.put("/_emulator/throttle", json={"enabled": False}).json()["enabled"] is False
    assert admin.put("/_emulator/faults/transient", json={"rate": 2}).status_code == 400
    assert admin.post("/_emulator/faults/job-failure", json={"vm": "x", "times": 0}).status_code == 400
    assert admin.get("/_emulator/items/nope").status_code == 404


def test_a_fleet_scenario_serves_every_subscription_and_vault():
    with serve_in_thread(create_app("fleet:7:2", seed=3)) as url, httpx.Client(base_url=url) as http:
        scenario = http.get("/_emulator/scenario").json()
        assert scenario["time_scale"] > 100
        assert len(scenario["subscriptions"]) == 2
        vaults = [v for s in scenario["subscriptions"] for v in s["vaults"]]
        assert sorted(len(v["items"]) for v in vaults) == [3, 4]
        item = vaults[0]["items"][0]
        assert item["protection_state"] == "UnplannedFailoverCommitted"
        answer = http.get(item["id"], params={"api-version": "2025-08-01"}, headers={"Authorization": "Bearer t"})
        assert answer.status_code == 200
        assert answer.json()["properties"]["providerSpecificDetails"]["protectedManagedDisks"]


def test_the_command_line_refuses_an_unknown_scenario():
    run = subprocess.run(
        [sys.executable, "-m", "emulator", "--scenario", "nope", "--port", "1"],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert run.returncode == 2
    assert "Unknown scenario" in run.stderr
