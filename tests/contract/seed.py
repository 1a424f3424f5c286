"""Real data for the contract run, made through the API and the worker code, so that reads answer 200.

Without it every ``GET /jobs/{id}`` would answer 404 and the 200 shapes of the document would never be
checked. The run gets a protected, a failed (retryable) and a cancelled job, a registered receiver and
delivered webhooks, and keeps VMs that can still be reprotected for the request examples.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import httpx
from fastapi.testclient import TestClient

from app.bootstrap import Container
from tests.drive import deliver_due, drive


@dataclass(frozen=True)
class Seeded:
    """What the run can build valid requests from."""

    receiver_url: str
    vault_id: str
    free_vms: list[dict[str, Any]]  # demo items a new POST /reprotect may accept
    job_ids: dict[str, str]  # protected / failed / cancelled -> job id


def demo_vault(emulator: httpx.Client) -> dict[str, Any]:
    """The emulator's demo vault (id and items)."""
    vault: dict[str, Any] = emulator.get("/_emulator/scenario").json()["subscriptions"][0]["vaults"][0]
    return vault


def committed_vms(vault: dict[str, Any]) -> list[dict[str, Any]]:
    """Items whose failover is committed and whose original VM still exists: reprotect accepts them."""
    return [
        i
        for i in vault["items"]
        if i["protection_state"] == "UnplannedFailoverCommitted" and i["source_vm"] == "present"
    ]


def seed(api: TestClient, container: Container, emulator: httpx.Client, *, receiver_url: str) -> Seeded:
    """Register a receiver, run three jobs to their three ends, deliver their webhooks."""
    vault = demo_vault(emulator)
    ok, failing, cancelled, *spare = committed_vms(vault)
    _created(api.post("/webhooks", json={"url": receiver_url, "description": "contract seed"}), 201)
    emulator.post(
        "/_emulator/faults/job-failure",
        json={"vm": failing["name"], "task": "ProtectReplicaTask", "code": "151195", "times": 1},
    ).raise_for_status()
    accepted = _created(api.post("/reprotect", json={"vms": [{"item_id": i["id"]} for i in (ok, failing, cancelled)]}))
    jobs = {j["vm"]: j["id"] for j in accepted["jobs"]}
    _created(api.post(f"/jobs/{jobs[cancelled['name']]}/cancel"))
    drive(container)
    deliver_due(container)
    return Seeded(
        receiver_url=receiver_url,
        vault_id=vault["id"],
        free_vms=[cancelled, *spare],  # cancelled before submission: Azure never saw it
        job_ids={"protected": jobs[ok["name"]], "failed": jobs[failing["name"]], "cancelled": jobs[cancelled["name"]]},
    )


def _created(response: httpx.Response, status: int = 202) -> Any:
    assert response.status_code == status, response.text
    return response.json()
