"""What a reprotect that fails or is cancelled leaves behind, in each leftovers mode Azure may have (its
answer after the item moved is not public): put back, or left moved with SwitchProtection or only
DisableProtection allowed; failed jobs offer Restart, and a restart starts again from the item as it was."""

from __future__ import annotations

import pytest
from azure.core.exceptions import ResourceNotFoundError

from tests.emulator.support import advance, item_json, job_name_of, submit, switch_body

LATE = {"vm": "web-01", "task": "ProtectReplicaTask", "code": "151195", "at_fraction": 0.5}


def _fail_late(client, demo, admin, *, mode: str, restartable: bool = True) -> tuple[str, dict]:
    admin.put("/_emulator/faults/leftovers", json={"after_move": mode}).raise_for_status()
    admin.post("/_emulator/faults/job-failure", json={**LATE, "restartable": restartable}).raise_for_status()
    body = switch_body(demo, item_json(client, demo, "web-01"))
    name = job_name_of(submit(client, demo, body))
    advance(admin, 40000)
    return name, body


def _where(admin, vm: str) -> dict:
    return admin.get(f"/_emulator/items/{vm}").json()


def test_a_failure_before_the_item_moves_restores_it_in_every_mode(client, demo, admin):
    admin.put("/_emulator/faults/leftovers", json={"after_move": "moved_disable"}).raise_for_status()
    admin.post("/_emulator/faults/job-failure", json={"vm": "web-01", "task": "ProtectReplicaTask"}).raise_for_status()
    name = job_name_of(submit(client, demo, switch_body(demo, item_json(client, demo, "web-01"))))
    advance(admin, 40000)
    job = client.replication_jobs.get(demo.rg, demo.vault, name).properties
    assert (job.state, job.allowed_actions) == ("Failed", ["Restart"])
    item = item_json(client, demo, "web-01")["properties"]  # still under East Asia, old id
    assert item["protectionState"] == "UnplannedFailoverCommitted"
    assert "SwitchProtection" in item["allowedOperations"]


def test_restore_mode_puts_a_late_failure_back_under_the_old_container(client, demo, admin):
    name, _ = _fail_late(client, demo, admin, mode="restore")
    job = client.replication_jobs.get(demo.rg, demo.vault, name).properties
    assert (job.state, job.allowed_actions) == ("Failed", ["Restart"])
    assert item_json(client, demo, "web-01")["properties"]["protectionState"] == "UnplannedFailoverCommitted"
    assert _where(admin, "web-01")["location"] == "eastasia"


def test_moved_disable_mode_leaves_the_item_under_the_new_container_and_restart_finishes_it(client, demo, admin):
    name, _ = _fail_late(client, demo, admin, mode="moved_disable")
    job = client.replication_jobs.get(demo.rg, demo.vault, name).properties
    assert (job.state, job.allowed_actions) == ("Failed", ["Restart"])
    assert job.custom_details.new_replication_protected_item_id
    with pytest.raises(ResourceNotFoundError):  # the old id is gone
        item_json(client, demo, "web-01")
    moved = item_json(client, demo, "web-01", east=False)
    assert moved["id"].lower() == job.custom_details.new_replication_protected_item_id.lower()
    assert moved["properties"]["allowedOperations"] == ["DisableProtection"]
    assert _where(admin, "web-01")["artifacts"]["seed_blobs"]  # what the job made stays

    client.replication_jobs.begin_restart(demo.rg, demo.vault, name).result(timeout=10)
    advance(admin, 80000)
    assert client.replication_jobs.get(demo.rg, demo.vault, name).properties.state == "Succeeded"
    assert _where(admin, "web-01")["protection_state"] == "Protected"


def test_moved_switch_mode_takes_the_same_reprotect_again_at_the_new_container(client, demo, admin):
    name, body = _fail_late(client, demo, admin, mode="moved_switch", restartable=False)
    job = client.replication_jobs.get(demo.rg, demo.vault, name).properties
    assert (job.state, job.allowed_actions) == ("Failed", [])
    moved = item_json(client, demo, "web-01", east=False)["properties"]
    assert "SwitchProtection" in moved["allowedOperations"]

    client.replication_protection_containers.begin_switch_protection(
        demo.rg, demo.vault, demo.sea_fabric, demo.sea_container, body, polling=False
    )
    advance(admin, 80000)
    assert _where(admin, "web-01")["protection_state"] == "Protected"
    stats = admin.get("/_emulator/stats").json()
    assert stats["calls_by_item"]["web-01"]["ReplicationProtectionContainers_SwitchProtection"] == 2


def test_a_late_cancel_in_a_moved_mode_leaves_the_item_moved_and_the_job_without_restart(client, demo, admin):
    admin.put("/_emulator/faults/leftovers", json={"after_move": "moved_disable"}).raise_for_status()
    name = job_name_of(submit(client, demo, switch_body(demo, item_json(client, demo, "web-01"))))
    advance(admin, 600)
    job = client.replication_jobs.begin_cancel(demo.rg, demo.vault, name).result(timeout=10)
    assert (job.properties.state, job.properties.allowed_actions) == ("Cancelled", [])
    assert item_json(client, demo, "web-01", east=False)["properties"]["allowedOperations"] == ["DisableProtection"]


def test_leftovers_mode_is_validated_and_shown(admin):
    assert admin.put("/_emulator/faults/leftovers", json={"after_move": "vanish"}).status_code == 400
    admin.put("/_emulator/faults/leftovers", json={"after_move": "moved_switch"}).raise_for_status()
    assert admin.get("/_emulator/faults").json()["leftovers"] == {"after_move": "moved_switch"}
    admin.delete("/_emulator/faults").raise_for_status()
    assert admin.get("/_emulator/faults").json()["leftovers"] == {"after_move": "restore"}
