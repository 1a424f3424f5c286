"""OpenAPI examples of the drill and failover operations (``POST /drills``, ``POST /drills/{request_id}/cleanup``,
``POST /failovers``, ``POST /failovers/{request_id}/commit``).

The same fleet as ``app.api.examples`` (a vault in North Europe protecting West Europe VMs, here protected
again and drilled in North Europe's isolated test network); that module merges these into its tables.
"""

from __future__ import annotations

from typing import Any

Named = dict[str, tuple[str, Any]]

_SUBSCRIPTION = "6a1f5c2e-0d4b-4e8f-9a37-2b1c0d9e8f71"
_GROUPS = f"/subscriptions/{_SUBSCRIPTION}/resourceGroups"
_VAULT_ID = f"{_GROUPS}/rg-dr-northeurope/providers/Microsoft.RecoveryServices/vaults/vault-dr"
_ITEM_ID = (
    f"{_VAULT_ID}/replicationFabrics/asr-a2a-default-westeurope"
    "/replicationProtectionContainers/asr-a2a-default-westeurope-container/replicationProtectedItems/vm-web-01"
)
_TEST_NETWORK = f"{_GROUPS}/rg-dr-northeurope/providers/Microsoft.Network/virtualNetworks/vnet-dr-test"
_REQUEST_ID = "2c9e4b1a-7d3f-4e5a-9b8c-1d2e3f4a5b6c"
_CLEANUP_REQUEST_ID = "4e1f2a3b-5c6d-4e7f-8a9b-0c1d2e3f4a5b"
_JOB_ID = "6d5c4b3a-2910-4f8e-a7d6-c5b4a3928171"
_CLEANUP_JOB_ID = "8f7e6d5c-4b3a-4291-8f0e-d1c2b3a49582"
_FAILOVER_REQUEST_ID = "9a8b7c6d-5e4f-4a3b-8c2d-1e0f9a8b7c6d"
_FAILOVER_JOB_ID = "1b2c3d4e-5f6a-4b7c-8d9e-0f1a2b3c4d5e"
_COMMIT_REQUEST_ID = "3c4d5e6f-7a8b-4c9d-8e0f-1a2b3c4d5e6f"
_COMMIT_JOB_ID = "5e6f7a8b-9c0d-4e1f-8a2b-3c4d5e6f7a8b"


def _accepted(request_id: str, job_id: str, kind: str) -> dict[str, Any]:
    job = {
        "id": job_id,
        "vm": "vm-web-01",
        "vault_id": _VAULT_ID,
        "item_id": _ITEM_ID,
        "state": "accepted",
        "href": f"/jobs/{job_id}",
        "kind": kind,
    }
    return {"request_id": request_id, "href": f"/reprotect/{request_id}", "jobs": [job], "callback_secret": None}


def _refused(code: str, operation: str, allowed: str, state: str) -> dict[str, Any]:
    return {
        "type": "urn:reprotect:problem:prerequisites_failed",
        "title": "Some VMs cannot be reprotected",
        "status": 422,
        "detail": "1 VM(s) cannot be reprotected. Nothing was submitted; fix or remove these VMs and send the "
        "request again.",
        "code": "prerequisites_failed",
        "vms": [
            {
                "vm": _ITEM_ID,
                "code": code,
                "message": f"Site Recovery does not allow {operation} on this VM now: its allowedOperations are "
                f"[{allowed}] ({state}).",
            }
        ],
    }


_BUSY = {
    "type": "urn:reprotect:problem:prerequisites_failed",
    "title": "Some VMs cannot be reprotected",
    "status": 409,
    "detail": "1 VM(s) cannot be reprotected. Nothing was submitted; fix or remove these VMs and send the request "
    "again.",
    "code": "prerequisites_failed",
    "vms": [
        {
            "vm": _ITEM_ID,
            "code": "vm_has_active_job",
            "message": f"Job {_JOB_ID} (reprotect, syncing) is already running on this VM; follow it or cancel it.",
        }
    ],
}

OPERATIONS: dict[str, dict[str, Any]] = {
    "startDrill": {
        "request": {
            "latest": (
                "A test failover of one VM at its latest recovery point",
                {"vms": [{"item_id": _ITEM_ID}], "test_network_id": _TEST_NETWORK},
            ),
            "app_consistent": (
                "Two VMs by vault and name, at their latest app-consistent points",
                {
                    "vms": [
                        {"vault_id": _VAULT_ID, "vm_name": "vm-web-01"},
                        {"vault_id": _VAULT_ID, "vm_name": "vm-db-02"},
                    ],
                    "test_network_id": _TEST_NETWORK,
                    "recovery_point": "latest_app_consistent",
                },
            ),
        },
        "responses": {202: {"accepted": ("Accepted: one drill job per VM", _accepted(_REQUEST_ID, _JOB_ID, "drill"))}},
    },
    "cleanUpDrill": {
        "request": {
            "notes": ("The operator's notes on the drill", {"comments": "Drill 2026-Q4: web tier came up in 3 min."})
        },
        "responses": {
            202: {
                "accepted": (
                    "Accepted: one cleanup job per drilled VM",
                    _accepted(_CLEANUP_REQUEST_ID, _CLEANUP_JOB_ID, "drill_cleanup"),
                )
            }
        },
    },
}
OPERATIONS |= {
    "startFailover": {
        "request": {
            "latest": (
                "An unplanned failover of one VM at its latest recovery point",
                {"vms": [{"item_id": _ITEM_ID}]},
            ),
            "app_consistent": (
                "Two VMs by vault and name, at their latest app-consistent points",
                {
                    "vms": [
                        {"vault_id": _VAULT_ID, "vm_name": "vm-web-01"},
                        {"vault_id": _VAULT_ID, "vm_name": "vm-db-02"},
                    ],
                    "recovery_point": "latest_app_consistent",
                },
            ),
        },
        "responses": {
            202: {
                "accepted": (
                    "Accepted: one failover job per VM",
                    _accepted(_FAILOVER_REQUEST_ID, _FAILOVER_JOB_ID, "failover"),
                )
            }
        },
    },
    "commitFailover": {
        "responses": {
            202: {
                "accepted": (
                    "Accepted: one commit job per failed-over VM",
                    _accepted(_COMMIT_REQUEST_ID, _COMMIT_JOB_ID, "commit"),
                )
            }
        },
    },
}

OPERATION_PROBLEMS: dict[str, dict[int, Named]] = {
    "startDrill": {
        422: {
            "test_failover_not_allowed": (
                "A VM Site Recovery does not allow a test failover now",
                _refused(
                    "test_failover_not_allowed",
                    "TestFailover",
                    "CompleteMigration, DisableProtection, SwitchProtection",
                    "protectionState 'UnplannedFailoverCommitted': Failover committed; testFailoverState 'None'",
                ),
            )
        },
        409: {"vm_has_active_job": ("A VM already has an active job (of any kind)", _BUSY)},
    },
    "cleanUpDrill": {
        422: {
            "test_failover_cleanup_not_allowed": (
                "A VM with no test failover to clean up",
                _refused(
                    "test_failover_cleanup_not_allowed",
                    "TestFailoverCleanup",
                    "DisableProtection, PlannedFailover, TestFailover, UnplannedFailover",
                    "protectionState 'Protected': Protected; testFailoverState 'None'",
                ),
            )
        },
        409: {"vm_has_active_job": ("A VM already has an active job (of any kind)", _BUSY)},
    },
}

OPERATION_PROBLEMS |= {
    "startFailover": {
        422: {
            "failover_not_allowed": (
                "A VM Site Recovery does not allow a failover now",
                _refused(
                    "failover_not_allowed",
                    "UnplannedFailover",
                    "CompleteMigration, DisableProtection, SwitchProtection",
                    "protectionState 'UnplannedFailoverCommitted': Failover committed; testFailoverState 'None'",
                ),
            )
        },
        409: {"vm_has_active_job": ("A VM already has an active job (of any kind)", _BUSY)},
    },
    "commitFailover": {
        422: {
            "commit_not_allowed": (
                "A VM with no failover to commit",
                _refused(
                    "commit_not_allowed",
                    "Commit",
                    "DisableProtection, PlannedFailover, TestFailover, UnplannedFailover",
                    "protectionState 'Protected': Protected; testFailoverState 'None'",
                ),
            )
        },
        409: {"vm_has_active_job": ("A VM already has an active job (of any kind)", _BUSY)},
    },
}
