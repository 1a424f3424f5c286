"""OpenAPI examples of the campaign operations (``/campaigns``): a campaign taking two VMs home in two waves,
waiting at the drill's manual gate; its dry run; its list; and the refusals it may meet.

The same fleet as ``app.api.examples`` (a vault in North Europe protecting West Europe VMs); that module merges
these into its tables.
"""

from __future__ import annotations

from typing import Any

Named = dict[str, tuple[str, Any]]

_SUBSCRIPTION = "6a1f5c2e-0d4b-4e8f-9a37-2b1c0d9e8f71"
_GROUPS = f"/subscriptions/{_SUBSCRIPTION}/resourceGroups"
_VAULT_ID = f"{_GROUPS}/rg-dr-northeurope/providers/Microsoft.RecoveryServices/vaults/vault-dr"
_TEST_NETWORK = f"{_GROUPS}/rg-app-westeurope/providers/Microsoft.Network/virtualNetworks/vnet-we-test"
_CAMPAIGN_ID = "7b6a5c4d-3e2f-4a1b-9c8d-7e6f5a4b3c2d"
_OTHER_CAMPAIGN_ID = "0e1d2c3b-4a59-4867-b5a4-93827161504f"
_JOBS = {
    ("reprotect", "vm-web-01"): "11111111-2222-4333-8444-555555555501",
    ("reprotect", "vm-db-02"): "11111111-2222-4333-8444-555555555502",
    ("drill", "vm-web-01"): "11111111-2222-4333-8444-555555555503",
    ("drill", "vm-db-02"): "11111111-2222-4333-8444-555555555504",
}
_AT = "2026-11-30T09:30:00Z"

BODY: dict[str, Any] = {
    "name": "Back to West Europe: web tier",
    "vms": [
        {"vault_id": _VAULT_ID, "vm_name": "vm-db-02", "wave": 1},
        {"vault_id": _VAULT_ID, "vm_name": "vm-web-01", "wave": 2},
    ],
    "test_networks": {"westeurope": _TEST_NETWORK},
    "wave_gates": {
        "1": {"approval": "auto", "health_checks": [{"url": "https://db.contoso.example/health"}]},
        "2": {"approval": "manual"},
    },
}


def _job(phase: str, vm: str) -> dict[str, Any]:
    job_id = _JOBS[(phase, vm)]
    return {"job_id": job_id, "kind": phase, "state": "protected", "error": None, "href": f"/jobs/{job_id}"}


def _step(position: int, phase: str, wave: int | None, gate: str, **more: Any) -> dict[str, Any]:
    return {
        "position": position,
        "phase": phase,
        "wave": wave,
        "state": more.pop("state", "pending"),
        "estimated_seconds": more.pop("estimated_seconds", 210.0),
        "started_at": more.pop("started_at", None),
        "finished_at": more.pop("finished_at", None),
        "counts": more.pop("counts", {}),
        "gate": {
            "kind": gate,
            "state": more.pop("gate_state", None),
            "health_checks": more.pop("health_checks", []),
            "results": [],
            "decided_by": None,
            "reason": None,
            "decided_at": None,
        },
    }


_DONE = {"protected": 2, "skipped": 0, "refused": 0}
CAMPAIGN: dict[str, Any] = {
    "id": _CAMPAIGN_ID,
    "name": BODY["name"],
    "state": "waiting_gate",
    "stop_reason": None,
    "blocked_reason": None,
    "phase": "drill",
    "wave": None,
    "created_by": "key:ops-portal",
    "created_at": "2026-11-30T07:02:11Z",
    "updated_at": _AT,
    "finished_at": None,
    "eta_at": "2026-11-30T10:20:00Z",
    "options": {k: v for k, v in BODY.items() if k != "vms"},
    "steps": [
        _step(
            0,
            "reprotect",
            None,
            "none",
            state="done",
            estimated_seconds=5400.0,
            counts=_DONE,
            started_at="2026-11-30T07:02:12Z",
            finished_at="2026-11-30T09:20:41Z",
        ),
        _step(
            1,
            "drill",
            None,
            "manual",
            state="done",
            counts=_DONE,
            gate_state="pending",
            started_at="2026-11-30T09:20:43Z",
            finished_at=_AT,
        ),
        _step(2, "drill_cleanup", None, "none", estimated_seconds=120.0),
        _step(
            3,
            "failover",
            1,
            "http",
            estimated_seconds=360.0,
            health_checks=[{"url": "https://db.contoso.example/health", "expected_status": 200}],
        ),
        _step(4, "failover", 2, "manual", estimated_seconds=360.0),
        _step(5, "commit", None, "none", estimated_seconds=30.0),
        _step(6, "reprotect_back", None, "none", estimated_seconds=5400.0),
    ],
    "vms": [
        {
            "vm_name": vm,
            "vault_id": _VAULT_ID,
            "wave": wave,
            "phases": {"reprotect": _job("reprotect", vm), "drill": _job("drill", vm)},
        }
        for vm, wave in (("vm-db-02", 1), ("vm-web-01", 2))
    ],
    "history": [
        {
            "at": "2026-11-30T07:02:11Z",
            "from_state": None,
            "to_state": "running",
            "actor": "key:ops-portal",
            "reason": "created",
        },
        {
            "at": _AT,
            "from_state": "running",
            "to_state": "waiting_gate",
            "actor": "service",
            "reason": "drill: waits for approval",
        },
    ],
    "links": {"self": f"/campaigns/{_CAMPAIGN_ID}"},
}

PLAN: dict[str, Any] = {
    "name": BODY["name"],
    "vm_count": 2,
    "steps": [
        {
            "phase": phase,
            "wave": wave,
            "vms": vms,
            "skipped": {},
            "gate": gate,
            "health_checks": checks,
            "estimated_seconds": seconds,
        }
        for phase, wave, vms, gate, checks, seconds in (
            ("reprotect", None, ["vm-db-02", "vm-web-01"], "none", [], 5400.0),
            ("drill", None, ["vm-db-02", "vm-web-01"], "manual", [], 210.0),
            ("drill_cleanup", None, ["vm-db-02", "vm-web-01"], "none", [], 120.0),
            (
                "failover",
                1,
                ["vm-db-02"],
                "http",
                [{"url": "https://db.contoso.example/health", "expected_status": 200}],
                360.0,
            ),
            ("failover", 2, ["vm-web-01"], "manual", [], 360.0),
            ("commit", None, ["vm-db-02", "vm-web-01"], "none", [], 30.0),
            ("reprotect_back", None, ["vm-db-02", "vm-web-01"], "none", [], 5400.0),
        )
    ],
    "refused": [],
    "recovery_points": {},
    "estimated_seconds": 11880.0,
}

_SUMMARY = {
    "id": _CAMPAIGN_ID,
    "name": BODY["name"],
    "state": "waiting_gate",
    "phase": "drill",
    "wave": None,
    "vm_count": 2,
    "created_by": "key:ops-portal",
    "created_at": "2026-11-30T07:02:11Z",
    "links": {"self": f"/campaigns/{_CAMPAIGN_ID}"},
}

_APPROVED = CAMPAIGN | {"state": "running", "phase": "drill_cleanup"}

OPERATIONS: dict[str, dict[str, Any]] = {
    "createCampaign": {
        "request": {
            "waves": ("Two VMs in two waves: a health check after the first, an approval after the second", BODY),
            "selector": (
                "Every VM of a vault that needs reprotect, in waves of 50, no drill",
                {
                    "name": "Vault dr: everything home",
                    "selector": {"vault_ids": [_VAULT_ID]},
                    "wave_size": 50,
                    "drill": False,
                },
            ),
        },
        "responses": {
            201: {
                "created": (
                    "Created: the reprotect step has started",
                    CAMPAIGN | {"state": "running", "phase": "reprotect"},
                )
            },
            200: {"plan": ("Dry run: the plan", PLAN)},
        },
    },
    "listCampaigns": {
        "responses": {200: {"page": ("A page of campaigns", {"items": [_SUMMARY], "next_cursor": None})}}
    },
    "getCampaign": {"responses": {200: {"waiting": ("Waiting at the drill's manual gate", CAMPAIGN)}}},
    "approveCampaignGate": {
        "request": {"reason": ("Why the operator approves", {"reason": "App team checked both test VMs."})},
        "responses": {200: {"approved": ("Approved: the drill's cleanup starts", _APPROVED)}},
    },
    "pauseCampaign": {"responses": {200: {"paused": ("Paused", CAMPAIGN | {"state": "paused"})}}},
    "resumeCampaign": {"responses": {200: {"resumed": ("Resumed", CAMPAIGN | {"state": "waiting_gate"})}}},
    "abortCampaign": {
        "request": {"reason": ("Why", {"reason": "Application owners postponed the failback."})},
        "responses": {
            200: {
                "aborting": (
                    "Aborting: the drill's test VMs are cleaned up, then it ends",
                    CAMPAIGN | {"state": "aborting", "stop_reason": "aborted by key:ops: postponed"},
                )
            }
        },
    },
    "retryCampaignVm": {
        "request": {"vm": ("The VM whose step runs again", {"vm_name": "vm-web-01"})},
        "responses": {200: {"retried": ("The VM's job runs again; the campaign goes on", _APPROVED)}},
    },
}

_IN_CAMPAIGN = {
    "type": "urn:reprotect:problem:prerequisites_failed",
    "title": "Some VMs cannot be reprotected",
    "status": 409,
    "detail": "1 VM(s) cannot be reprotected. Nothing was submitted; fix or remove these VMs and send the request "
    "again.",
    "code": "prerequisites_failed",
    "vms": [
        {
            "vm": "vm-web-01",
            "code": "vm_in_campaign",
            "message": f"Campaign {_OTHER_CAMPAIGN_ID} already takes this VM home; abort it or wait for it to end.",
        }
    ],
}


def _state_conflict(action: str, state: str, allowed: str) -> dict[str, Any]:
    return {
        "type": "urn:reprotect:problem:campaign_state_conflict",
        "title": "Conflict",
        "status": 409,
        "detail": f"Campaign {_CAMPAIGN_ID} is {state}; it can be {action} only when {allowed}.",
        "code": "campaign_state_conflict",
        "state": state,
    }


OPERATION_PROBLEMS: dict[str, dict[int, Named]] = {
    "createCampaign": {409: {"vm_in_campaign": ("A VM is already in an unfinished campaign", _IN_CAMPAIGN)}},
    "approveCampaignGate": {
        409: {"not_waiting": ("The campaign waits at no gate", _state_conflict("approved", "running", "waiting_gate"))}
    },
    "pauseCampaign": {
        409: {
            "over": (
                "The campaign has ended",
                _state_conflict("paused", "completed", "running, waiting_gate"),
            )
        }
    },
}
