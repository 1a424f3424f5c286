"""Examples for the OpenAPI document: a request and an answer per operation, and a problem per status.

One realistic fleet (a vault in West Europe whose VMs failed over to North Europe) is shared by all of
them. ``app.api.contract`` puts them on the operations by operationId; ``tests/api/test_openapi_contract.py``
checks each against its schema, so an example cannot drift from the model it illustrates.
"""

from __future__ import annotations

import json
from typing import Any

from app.api import campaign_examples, drill_examples

Named = dict[str, tuple[str, Any]]  # example name -> (summary, value)

SUBSCRIPTION = "6a1f5c2e-0d4b-4e8f-9a37-2b1c0d9e8f71"
_GROUPS = f"/subscriptions/{SUBSCRIPTION}/resourceGroups"
VAULT_ID = f"{_GROUPS}/rg-dr-northeurope/providers/Microsoft.RecoveryServices/vaults/vault-dr"
_CONTAINER = (
    f"{VAULT_ID}/replicationFabrics/asr-a2a-default-westeurope"
    "/replicationProtectionContainers/asr-a2a-default-westeurope-container"
)
ITEM_ID = f"{_CONTAINER}/replicationProtectedItems/vm-web-01"
ASR_JOB_NAME = "8b5c7e0a-2f4d-4a6b-9c1e-3d5f7a9b0c2e"
ASR_JOB_ID = f"{VAULT_ID}/replicationJobs/{ASR_JOB_NAME}"
NEW_ITEM_ID = ITEM_ID.replace("westeurope", "northeurope")  # the item replicating back, created by reprotect
REQUEST_ID = "0b6a9c4e-3d2f-4b1a-8e7c-5f4d3c2b1a09"
JOB_ID = "3f2b6c1e-8a4d-4f7e-9b1a-2c5d6e7f8a9b"
FAILED_JOB_ID = "7c1d2e3f-4a5b-4c6d-8e9f-0a1b2c3d4e5f"
WEBHOOK_ID = "5e4d3c2b-1a09-4f8e-b7d6-c5b4a3928170"
DELIVERY_ID = "9a8b7c6d-5e4f-4a3b-9c2d-1e0f9a8b7c6d"
API_KEY_ID = "65c8b377"
CURSOR = "eyJjIjoiMjAyNi0xMS0zMFQwOToxNDowMFoiLCJpIjoiM2YyYjZjMWUifQ"

_STEPS = [
    {"state": s, "started_at": f"2026-11-30T09:{m}Z", "ended_at": f"2026-11-30T09:{e}Z"}
    for s, m, e in (
        ("accepted", "00:01", "00:02"),
        ("validating", "00:02", "00:09"),
        ("submitting", "00:09", "00:12"),
        ("reprotecting", "00:12", "21:40"),
    )
] + [{"state": "syncing", "started_at": "2026-11-30T09:21:40Z", "ended_at": None}]

_HISTORY = [
    {"attempt": 1, "from_state": f, "to_state": t, "at": at, "reason": reason, "actor": actor}
    | {"request_id": "4c1f9e2a7b3d4e5f8a6b0c1d2e3f4a5b"}  # the x-request-id of the POST /reprotect (app.logs)
    for f, t, at, reason, actor in (
        (None, "accepted", "2026-11-30T09:00:01Z", "reprotect requested", "key:d7d600b2"),
        ("accepted", "validating", "2026-11-30T09:00:02Z", "picked up by a worker", "worker"),
        ("validating", "submitting", "2026-11-30T09:00:09Z", "item state and target region re-checked", "worker"),
        (
            "submitting",
            "reprotecting",
            "2026-11-30T09:00:12Z",
            f"switch protection submitted (ASR job {ASR_JOB_NAME})",
            "worker",
        ),
        (
            "reprotecting",
            "syncing",
            "2026-11-30T09:21:40Z",
            "ASR reprotect job succeeded; watching the resynchronisation",
            "worker",
        ),
    )
]

_TASKS = [
    {
        "task_id": task,
        "name": name,
        "state": state,
        "state_description": description,
        "start_time": start,
        "end_time": end,
    }
    for task, name, state, description, start, end in (
        ("SwitchReplicationGroupProtectionPreflightTask", "Prerequisite check", "Succeeded", "Completed",
         "2026-11-30T09:00:13Z", "2026-11-30T09:00:25Z"),
        ("CommitFailoverTask", "Committing failover", "Other", "Skipped", None, None),
        ("DiscoverReplicaTask", "Discovering replica virtual machine", "Succeeded", "Completed",
         "2026-11-30T09:00:25Z", "2026-11-30T09:00:31Z"),
        ("ProtectReplicaTask", "Protecting replica", "Succeeded", "Completed", "2026-11-30T09:00:31Z",
         "2026-11-30T09:21:39Z"),
    )
]  # fmt: skip

_RESOLVED_NEW = {"id": None, "name": "rg-web-westeurope-asr", "status": "new"}
PLAN: dict[str, Any] = {
    "vm": "vm-web-01",
    "item_id": ITEM_ID,
    "vault_id": VAULT_ID,
    "direction": {
        "source": "North Europe",
        "target": "West Europe",
        "source_location": "northeurope",
        "target_location": "westeurope",
    },
    "recovery_container_id": _CONTAINER,
    "policy_id": f"{VAULT_ID}/replicationPolicies/24-hour-retention-policy",
    "target_resource_group": {
        "id": f"/subscriptions/{SUBSCRIPTION}/resourceGroups/rg-web",
        "name": "rg-web",
        "status": "existing",
    },
    "network": {
        "id": f"{_GROUPS}/rg-net/providers/Microsoft.Network/virtualNetworks/vnet-we",
        "name": "vnet-we",
        "status": "existing",
    },
    "cache_storage_account": {**_RESOLVED_NEW, "name": "vmwebcacheasrne01"},
    "availability_set": None,
    "proximity_placement_group": None,
    "disks": [
        {
            "name": "vm-web-01-osdisk",
            "disk_id": f"/subscriptions/{SUBSCRIPTION}/resourceGroups/rg-web-asr/providers/Microsoft.Compute/disks/"
            "vm-web-01-osdisk-asr",
            "target_disk_id": f"/subscriptions/{SUBSCRIPTION}/resourceGroups/rg-web/providers/Microsoft.Compute/disks/"
            "vm-web-01-osdisk",
            "status": "existing",
            "size_gb": 128,
            "target_disk_type": "Premium_LRS",
            "replica_disk_type": "Premium_LRS",
        }
    ],
    "estimated_seconds": 2460.0,
}

_JOB_CORE = {
    "id": JOB_ID,
    "request_id": REQUEST_ID,
    "href": f"/jobs/{JOB_ID}",
    "vm": "vm-web-01",
    "vault_id": VAULT_ID,
    "item_id": ITEM_ID,
    "new_item_id": NEW_ITEM_ID,
    "state": "syncing",
    "terminal": False,
    "attempt": 1,
    "created_at": "2026-11-30T09:00:01Z",
    "updated_at": "2026-11-30T09:31:40Z",
    "submitted_at": "2026-11-30T09:00:12Z",
    "finished_at": None,
    "deadline_at": "2026-11-30T21:00:01Z",
    "asr_job_id": ASR_JOB_ID,
    "asr_job_state": "InProgress",
    "resync_percent": 64,
    "eta": "2026-11-30T09:58:00Z",
    "error": None,
}

JOB: dict[str, Any] = {
    **_JOB_CORE,
    "asr_tasks": _TASKS,
    "customization": {},
    "plan": PLAN,
    "steps": _STEPS,
    "history": _HISTORY,
}

FAILED_JOB: dict[str, Any] = {
    **JOB,
    "id": FAILED_JOB_ID,
    "href": f"/jobs/{FAILED_JOB_ID}",
    "vm": "vm-db-02",
    "item_id": ITEM_ID.replace("vm-web-01", "vm-db-02"),
    "new_item_id": None,
    "state": "failed",
    "terminal": True,
    "finished_at": "2026-11-30T09:04:10Z",
    "asr_job_state": "Failed",
    "resync_percent": None,
    "eta": None,
    "asr_tasks": _TASKS[:3],
    "plan": {**PLAN, "vm": "vm-db-02", "item_id": ITEM_ID.replace("vm-web-01", "vm-db-02")},
    "steps": _STEPS[:4],
    "history": _HISTORY[:4],
    "error": {
        "code": "151195",
        "message": "Site Recovery couldn't resolve the Site Recovery service URL from the virtual machine 'vm-db-02'. "
        "Check the DNS settings of the virtual network and that the DNS server can be reached, then retry.",
        "failed_in": "reprotecting",
        "details": {
            "asr_errors": [
                {
                    "code": "151195",
                    "message": "Site Recovery couldn't resolve the Site Recovery service URL from the virtual machine "
                    "'vm-db-02'.",
                    "possible_causes": "DNS resolution from the recovery region failed: the virtual network's custom "
                    "DNS server is not reachable from the virtual machine.",
                    "recommended_action": "Check the DNS settings of the virtual network and that the DNS server can "
                    "be reached, then retry.",
                    "task_id": "ProtectReplicaTask",
                }
            ]
        },
    },
}

JOB_ITEM: dict[str, Any] = {**_JOB_CORE, "subscription_id": SUBSCRIPTION}

WEBHOOK: dict[str, Any] = {
    "id": WEBHOOK_ID,
    "url": "https://portal.example.com/hooks/reprotect",
    "event_types": ["reprotect.job.succeeded", "reprotect.job.failed", "reprotect.request.completed"],
    "description": "Operations portal",
    "enabled": True,
    "disabled_reason": None,
    "created_at": "2026-11-29T15:20:00Z",
    "updated_at": "2026-11-29T15:20:00Z",
    "previous_secret_expires_at": None,
}
SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"  # noqa: S105 - an example, not a secret

DELIVERY: dict[str, Any] = {
    "id": DELIVERY_ID,
    "event_id": "msg_2f9c1b7a8e4d4c3b9a6f5e4d3c2b1a09",
    "event_type": "reprotect.job.failed",
    "endpoint_id": WEBHOOK_ID,
    "request_id": REQUEST_ID,
    "campaign_id": None,
    "job_id": FAILED_JOB_ID,
    "status": "delivered",
    "attempts": 2,
    "next_attempt_at": None,
    "last_status_code": 204,
    "last_error": None,
    "created_at": "2026-11-30T09:04:10Z",
    "finished_at": "2026-11-30T09:04:17Z",
    "redelivery_of": None,
    "attempt_log": [
        {
            "number": 1,
            "at": "2026-11-30T09:04:10Z",
            "duration_ms": 10004.2,
            "status_code": None,
            "error_code": "timeout",
            "error": "the receiver did not answer within 10 s",
            "response_excerpt": "",
        },
        {
            "number": 2,
            "at": "2026-11-30T09:04:17Z",
            "duration_ms": 48.7,
            "status_code": 204,
            "error_code": None,
            "error": None,
            "response_excerpt": "",
        },
    ],
}

API_KEY: dict[str, Any] = {
    "id": API_KEY_ID,
    "name": "ops-pipeline",
    "role": "operator",
    "scopes": [f"/subscriptions/{SUBSCRIPTION}"],
    "created_at": "2026-11-01T08:00:00Z",
    "created_by": "key:d7d600b2",
    "expires_at": "2027-11-01T08:00:00Z",
    "revoked_at": None,
    "last_used_at": "2026-11-30T09:00:01Z",
}

VM: dict[str, Any] = {
    "vm_name": "vm-web-01",
    "item_id": ITEM_ID,
    "vault_id": VAULT_ID,
    "vault_subscription_id": SUBSCRIPTION,
    "subscription_id": SUBSCRIPTION,
    "resource_group": "rg-web",
    "source_region": "northeurope",
    "target_region": "westeurope",
    "protection_state": "FailoverCommitted",
    "protection_state_description": "Failover committed",
    "active_location": "Recovery",
    "allowed_operations": ["ReverseReplicate", "DisableProtection"],
    "replication_health": "Normal",
    "reprotect_status": "in_progress",
    "reason_code": None,
    "reason": None,
    "job": {
        "id": JOB_ID,
        "request_id": REQUEST_ID,
        "state": "syncing",
        "progress_percent": 64,
        "eta": "2026-11-30T09:58:00Z",
        "error_code": None,
        "href": f"/jobs/{JOB_ID}",
    },
}

_COUNTS = {"accepted": 0, "validating": 0, "submitting": 1, "reprotecting": 12, "syncing": 40}
_COUNTS |= {"protected": 139, "failed": 6, "cancelled": 2}


def _p(code: str, status: int, title: str, detail: str) -> dict[str, Any]:
    return {"type": f"urn:reprotect:problem:{code}", "title": title, "status": status, "detail": detail, "code": code}


PREREQUISITES_FAILED: dict[str, Any] = {
    **_p(
        "prerequisites_failed",
        422,
        "Some VMs cannot be reprotected",
        "2 VM(s) cannot be reprotected. Nothing was submitted; fix or remove these VMs and send the request again.",
    ),
    "vms": [
        {
            "vm": ITEM_ID,
            "code": "failover_not_committed",
            "message": "The failover is not committed; commit it in Azure Site Recovery first.",
        },
        {
            "vm": "vault-dr/vm-db-02",
            "code": "reverse_network_mapping_missing",
            "message": "No network mapping from northeurope back to westeurope; name target_network_id.",
        },
    ],
}

ACTIVE_JOB: dict[str, Any] = {
    **_p(
        "prerequisites_failed",
        409,
        "Some VMs cannot be reprotected",
        "1 VM(s) cannot be reprotected. Nothing was submitted; fix or remove these VMs and send the request again.",
    ),
    "vms": [
        {
            "vm": ITEM_ID,
            "code": "vm_has_active_job",
            "message": f"Job {JOB_ID} is already reprotecting this VM (syncing); follow it or cancel it.",
        }
    ],
}

VALIDATION_FAILED: dict[str, Any] = {
    **_p("validation_failed", 422, "The request is not valid", "limit: Input should be less than or equal to 500"),
    "errors": [
        {
            "location": ["query", "limit"],
            "message": "Input should be less than or equal to 500",
            "type": "less_than_equal",
        }
    ],
}

PROBLEMS: dict[int, Named] = {
    400: {"malformed_body": ("The body is not JSON", _p("malformed_body", 400, "Bad Request", "Bad Request"))},
    401: {
        "unauthenticated": (
            "No credentials",
            _p(
                "unauthenticated",
                401,
                "Authentication required",
                "Authentication required: send 'Authorization: Bearer <API key or Entra ID token>'.",
            ),
        )
    },
    403: {
        "insufficient_role": (
            "The role does not allow it",
            _p("insufficient_role", 403, "Forbidden", "This needs the operator role; the caller has reader."),
        )
    },
    404: {"not_found": ("No such resource", _p("job_not_found", 404, "Not found", f"No job {JOB_ID}."))},
    409: {
        "conflict": (
            "Clashes with the current state",
            _p("job_not_failed", 409, "Conflict", "Only a failed job can be retried; this one is syncing."),
        )
    },
    413: {"body_too_large": ("The body is too large", _p("body_too_large", 413, "Body too large", "Body too large"))},
    422: {"validation_failed": ("A parameter does not validate", VALIDATION_FAILED)},
    429: {
        "rate_limited": (
            "Too many requests",
            _p("rate_limited", 429, "Too many requests", "More than 600 requests in the current window; slow down."),
        )
    },
    502: {
        "azure_forbidden": (
            "The service's Azure identity lacks a role",
            {
                **_p(
                    "azure_forbidden",
                    502,
                    "The service's Azure identity lacks a permission",
                    "The client does not have authorization to perform action "
                    "'Microsoft.RecoveryServices/vaults/replicationFabrics/read' over scope of the vault.",
                ),
                "details": {
                    "action": "Microsoft.RecoveryServices/vaults/replicationFabrics/read",
                    "scope": VAULT_ID,
                },
            },
        )
    },
    503: {
        "azure_throttled": (
            "Azure is throttling the service",
            _p("azure_throttled", 503, "Azure is throttling requests", "Azure Resource Manager answered 429."),
        )
    },
}

SECRET_UNAVAILABLE: Named = {
    "secret_unavailable": (
        "This replica lacks the key a stored secret is sealed under (a rolling key change)",
        _p(
            "secret_unavailable",
            503,
            "Service unavailable",
            "This replica cannot open a stored secret the answer needs (it lacks the key it was sealed with, or "
            "reads an older format); nothing was changed. Retry shortly: another replica may answer.",
        ),
    )
}
DATABASE_UNAVAILABLE: Named = {
    "database_unavailable": (
        "The database is not reachable",
        _p(
            "database_unavailable",
            503,
            "Service unavailable",
            "The job database is not reachable; nothing was recorded. Retry shortly.",
        ),
    )
}

JWKS_UNAVAILABLE: Named = {
    "jwks_unavailable": (
        "An Entra ID token whose tenant's signing keys cannot be fetched",
        _p(
            "jwks_unavailable",
            503,
            "Service unavailable",
            "The identity provider's signing keys cannot be fetched; retry later.",
        ),
    )
}

# Extra problem examples for one operation, by operationId and status.
OPERATION_PROBLEMS: dict[str, dict[int, Named]] = {
    "reprotect": {
        422: {"prerequisites_failed": ("Some VMs cannot be reprotected: each with its code", PREREQUISITES_FAILED)},
        409: {"vm_has_active_job": ("A VM is already being reprotected", ACTIVE_JOB)},
        503: SECRET_UNAVAILABLE,
    },
}
# Problem examples for one operation that replace the generic ones of their status (which cannot happen there:
# rotating a secret never calls Azure).
OPERATION_ONLY_PROBLEMS: dict[str, dict[int, Named]] = {
    "rotateWebhookSecret": {503: {**SECRET_UNAVAILABLE, **DATABASE_UNAVAILABLE, **JWKS_UNAVAILABLE}},
}

_PAGE = {"next_cursor": CURSOR}

# operationId -> {"request": named bodies, "responses": {status: named bodies}}
OPERATIONS: dict[str, dict[str, Any]] = {
    "reprotect": {
        "request": {
            "by_item_id": ("A VM by its replication protected item id", {"vms": [{"item_id": ITEM_ID}]}),
            "by_vault_and_name": (
                "A VM by vault and name, with a target resource group",
                {
                    "vms": [
                        {
                            "vault_id": VAULT_ID,
                            "vm_name": "vm-db-02",
                            "target_resource_group_id": f"/subscriptions/{SUBSCRIPTION}/resourceGroups/rg-db",
                        }
                    ],
                    "callback_url": "https://portal.example.com/hooks/reprotect",
                },
            ),
            "by_selector": (
                "Every VM of a vault that needs reprotect",
                {"selector": {"vault_ids": [VAULT_ID], "status": "needs_reprotect"}},
            ),
        },
        "responses": {
            202: {
                "accepted": (
                    "Accepted: one job per VM",
                    {
                        "request_id": REQUEST_ID,
                        "href": f"/reprotect/{REQUEST_ID}",
                        "jobs": [
                            {
                                "id": JOB_ID,
                                "vm": "vm-web-01",
                                "vault_id": VAULT_ID,
                                "item_id": ITEM_ID,
                                "state": "accepted",
                                "href": f"/jobs/{JOB_ID}",
                            }
                        ],
                        "callback_secret": None,
                    },
                )
            },
            200: {"dry_run": ("Dry run: the plan per VM", {"dry_run": True, "plans": [PLAN]})},
        },
    },
    "getReprotectRequest": {
        "responses": {
            200: {
                "request": (
                    "A request and its jobs",
                    {
                        "id": REQUEST_ID,
                        "created_at": "2026-11-30T09:00:01Z",
                        "vm_count": 1,
                        "counts": {"syncing": 1},
                        "completed": False,
                        "jobs": [JOB],
                    },
                )
            }
        }
    },
    "getJob": {
        "responses": {
            200: {
                "syncing": ("A job resynchronising", JOB),
                "failed": ("A failed job with Azure's possible causes and action", FAILED_JOB),
            }
        }
    },
    "listJobs": {"responses": {200: {"page": ("A page of jobs", {"items": [JOB_ITEM], **_PAGE})}}},
    "cancelJob": {"responses": {202: {"cancelled": ("Cancelled", {**JOB, "state": "cancelled", "terminal": True})}}},
    "retryJob": {
        "responses": {
            202: {"retried": ("A new attempt", {**FAILED_JOB, "state": "submitting", "terminal": False, "attempt": 2})}
        }
    },
    "summariseJobs": {
        "responses": {
            200: {
                "by_vault": (
                    "Counts per state by vault",
                    {
                        "group_by": "vault",
                        "groups": [{"key": VAULT_ID, "total": 200, "counts": _COUNTS}],
                        "total": 200,
                        "in_flight": 53,
                        "eta": "2026-11-30T10:40:00Z",
                        "top_failures": [
                            {"code": "InvalidProtectionState", "count": 4},
                            {"code": "azure_forbidden", "count": 2},
                        ],
                    },
                )
            }
        }
    },
    "retryJobs": {
        "request": {
            "failed_by_code": (
                "Retry the jobs of one vault that failed on a DNS error (ASR 151195)",
                {"filter": {"vault_ids": [VAULT_ID], "error_codes": ["151195"]}, "max_count": 100},
            )
        },
        "responses": {
            200: {
                "retried": (
                    "Every matched job's outcome",
                    {
                        "action": "retry",
                        "dry_run": False,
                        "filter": {"states": ["failed"], "vault_ids": [VAULT_ID], "error_codes": ["151195"]},
                        "max_count": 100,
                        "matched": 1,
                        "counts": {"retried": 1},
                        "jobs": [
                            {
                                "id": FAILED_JOB_ID,
                                "href": f"/jobs/{FAILED_JOB_ID}",
                                "vm": "vm-db-02",
                                "vault_id": VAULT_ID,
                                "state": "failed",
                                "error_code": "151195",
                                "outcome": "retried",
                                "detail": "Attempt 2 runs again from submitting.",
                                "state_after": "submitting",
                                "problem": None,
                            }
                        ],
                    },
                )
            }
        },
    },
    "cancelJobs": {
        "request": {
            "by_request": (
                "Cancel what is still running of one request",
                {"filter": {"request_ids": [REQUEST_ID], "vm_name_prefix": "vm-web-"}, "max_count": 50},
            )
        },
        "responses": {
            200: {
                "dry_run": (
                    "Dry run: what would happen",
                    {
                        "action": "cancel",
                        "dry_run": True,
                        "filter": {"states": ["accepted", "validating"], "request_ids": [REQUEST_ID]},
                        "max_count": 50,
                        "matched": 1,
                        "counts": {"would_be_refused": 1},
                        "jobs": [
                            {
                                "id": JOB_ID,
                                "href": f"/jobs/{JOB_ID}",
                                "vm": "vm-web-01",
                                "vault_id": VAULT_ID,
                                "state": "syncing",
                                "error_code": None,
                                "outcome": "would_be_refused",
                                "detail": "Azure no longer allows cancelling this reprotect.",
                                "state_after": None,
                                "problem": {
                                    "status": 409,
                                    "code": "cancel_not_allowed",
                                    "detail": "Azure no longer allows cancelling this reprotect.",
                                },
                            }
                        ],
                    },
                )
            }
        },
    },
    "streamJobEvents": {
        "responses": {
            200: {
                "events": (
                    "A transition, then a heartbeat",
                    "id: 1841\nevent: job\ndata: "
                    + json.dumps(
                        {
                            "event_id": 1841,
                            "job_id": JOB_ID,
                            "request_id": REQUEST_ID,
                            "vm_name": "vm-web-01",
                            "vault_id": VAULT_ID,
                            "state": "syncing",
                            "from_state": "reprotecting",
                            "attempt": 1,
                            "at": "2026-11-30T09:21:40Z",
                            "resync_percent": 0,
                            "eta_at": "2026-11-30T09:58:00Z",
                            "error_code": None,
                        }
                    )
                    + "\n\n: heartbeat\n\n",
                )
            }
        }
    },
    "createWebhook": {
        "request": {
            "receiver": (
                "Failures and completed requests to the portal",
                {
                    "url": "https://portal.example.com/hooks/reprotect",
                    "event_types": ["reprotect.job.failed", "reprotect.request.completed"],
                    "description": "Operations portal",
                },
            )
        },
        "responses": {201: {"created": ("Created, with its secret (shown once)", {**WEBHOOK, "secret": SECRET})}},
    },
    "listWebhooks": {"responses": {200: {"page": ("A page of endpoints", {"items": [WEBHOOK], "next_cursor": None})}}},
    "getWebhook": {"responses": {200: {"endpoint": ("An endpoint", WEBHOOK)}}},
    "updateWebhook": {
        "request": {"re_enable": ("Enable again after a 410 Gone", {"enabled": True})},
        "responses": {200: {"endpoint": ("The endpoint as changed", WEBHOOK)}},
    },
    "deleteWebhook": {"responses": {}},
    "rotateWebhookSecret": {
        "request": {"one_hour_grace": ("The old secret signs too for an hour", {"grace_seconds": 3600})},
        "responses": {
            200: {
                "rotated": (
                    "The new secret (shown once)",
                    {"id": WEBHOOK_ID, "secret": SECRET, "previous_secret_expires_at": "2026-11-30T10:00:00Z"},
                )
            }
        },
    },
    "listWebhookDeliveries": {
        "responses": {200: {"page": ("A page of deliveries", {"items": [DELIVERY], "next_cursor": None})}}
    },
    "getWebhookDelivery": {"responses": {200: {"delivery": ("A delivery with its attempts", DELIVERY)}}},
    "redeliverWebhook": {
        "responses": {
            202: {
                "queued": (
                    "A new delivery of the same event",
                    {**DELIVERY, "status": "pending", "attempts": 0, "attempt_log": [], "redelivery_of": DELIVERY_ID}
                    | {"id": "1f2e3d4c-5b6a-4978-8695-a4b3c2d1e0f9", "finished_at": None, "last_status_code": None}
                    | {"next_attempt_at": "2026-11-30T10:00:00Z"},
                )
            }
        }
    },
    "createApiKey": {
        "request": {
            "operator": (
                "An operator key for one subscription",
                {"name": "ops-pipeline", "role": "operator", "scopes": [f"/subscriptions/{SUBSCRIPTION}"]},
            )
        },
        "responses": {
            201: {
                "created": (
                    "Created, with its key (shown once)",
                    {**API_KEY, "key": "rpk_65c8b377_8I6Jw7lvVuZ2L2kHN4zRY1xJoxMCMqhYOXw2YX8h6Uc"},
                )
            }
        },
    },
    "listApiKeys": {"responses": {200: {"page": ("A page of keys", {"items": [API_KEY], "next_cursor": None})}}},
    "revokeApiKey": {"responses": {}},
    "listAudit": {
        "responses": {
            200: {
                "page": (
                    "Who did what",
                    {
                        "items": [
                            {
                                "id": 5121,
                                "at": "2026-11-30T09:00:01Z",
                                "request_id": "be40841bdd4949460000000000000001",
                                "principal_id": "key:d7d600b2",
                                "principal_kind": "api_key",
                                "method": "POST",
                                "route": "/reprotect",
                                "path": "/reprotect",
                                "status": 202,
                                "outcome": "succeeded",
                                "vm_ids": [ITEM_ID],
                            }
                        ],
                        **_PAGE,
                    },
                )
            }
        }
    },
    "healthz": {"responses": {200: {"up": ("The process answers", {"status": "ok"})}}},
    "readyz": {
        "responses": {
            200: {"ready": ("Ready", {"status": "ready", "checks": {"database": "ok", "broker": "ok"}})},
            503: {
                "broker_down": ("Not ready", {"status": "unavailable", "checks": {"database": "ok", "broker": "down"}})
            },
        }
    },
    "getMe": {
        "responses": {
            200: {
                "operator": (
                    "An operator key scoped to one subscription",
                    {
                        "id": "key:3f9a1c2e",
                        "kind": "api_key",
                        "name": "dr-portal",
                        "role": "operator",
                        "scopes": ["/subscriptions/11111111-2222-3333-4444-555555555555"],
                        "can_operate": True,
                    },
                )
            }
        }
    },
    "getStatus": {
        "responses": {
            200: {
                "ok": (
                    "Everything runs",
                    {
                        "status": "ok",
                        "checks": {"database": "ok", "broker": "ok", "azure_identity": "ok", "workers": "ok"}
                        | {"scheduler": "ok"},
                        "azure_identity": {"status": "ok", "detail": "token for https://management.azure.com/.default"},
                        "pipeline": {
                            "workers_alive": 3,
                            "scheduler_alive": True,
                            "worker_last_seen": "2026-11-30T09:31:10Z",
                            "scheduler_last_seen": "2026-11-30T09:31:08Z",
                            "jobs_accepted": 0,
                            "jobs_waiting": 2,
                            "oldest_due_job_age_seconds": 0.8,
                            "jobs_waiting_without_worker": 0,
                            "workers_on_another_broker": 0,
                            "workers_on_another_database": 0,
                        },
                        "problems": [],
                    },
                ),
                "no_worker": (
                    "No worker alive: accepted jobs wait",
                    {
                        "status": "degraded",
                        "checks": {"database": "ok", "broker": "ok", "azure_identity": "ok", "workers": "none"}
                        | {"scheduler": "ok"},
                        "azure_identity": {"status": "ok", "detail": "token for https://management.azure.com/.default"},
                        "pipeline": {
                            "workers_alive": 0,
                            "scheduler_alive": True,
                            "worker_last_seen": "2026-11-30T09:12:40Z",
                            "scheduler_last_seen": "2026-11-30T09:31:08Z",
                            "jobs_accepted": 40,
                            "jobs_waiting": 46,
                            "oldest_due_job_age_seconds": 1108.5,
                            "jobs_waiting_without_worker": 46,
                            "workers_on_another_broker": 0,
                            "workers_on_another_database": 0,
                        },
                        "problems": ["no worker alive: 46 job(s) wait and none will move until one starts"],
                    },
                ),
            }
        }
    },
    "listVms": {
        "responses": {
            200: {
                "page": (
                    "A page of VMs",
                    {"items": [VM], **_PAGE, "partial": False, "unreadable": [], "read_at": "2026-11-30T09:31:12Z"}
                    | {"vault_count": 1},
                )
            }
        }
    },
    "summarizeVms": {
        "responses": {
            200: {
                "by_region": (
                    "Counts by reprotect status per target region",
                    {
                        "group_by": "region",
                        "vault_count": 1,
                        "total": 200,
                        "counts": {"needs_reprotect": 40, "in_progress": 53, "protected": 99, "failed": 6},
                        "eta": "2026-11-30T10:40:00Z",
                        "top_failure_codes": [{"code": "151195", "count": 4}],
                        "top_not_eligible_reasons": [{"code": "failover_not_committed", "count": 2}],
                        "groups": [{"key": "westeurope", "total": 200, "counts": {"in_progress": 53}, "eta": None}],
                        "partial": False,
                        "unreadable": [],
                    },
                )
            }
        }
    },
}

# The drill operations (issue 15) keep their examples in their own module.
OPERATIONS |= drill_examples.OPERATIONS
OPERATION_PROBLEMS |= drill_examples.OPERATION_PROBLEMS
OPERATIONS |= campaign_examples.OPERATIONS
OPERATION_PROBLEMS |= campaign_examples.OPERATION_PROBLEMS
