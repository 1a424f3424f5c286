"""Request examples made of the seeded data, layered onto the app's own OpenAPI document for the run.

Random bodies never name a VM the emulator knows or a receiver the SSRF policy admits, so ``POST
/reprotect`` and ``POST /webhooks`` would never succeed and the links from their answers never be
followed. Schemathesis sends these examples in its examples phase and mixes them into generation.
They live here, not in the app: the ids exist only in the emulator's demo fleet.
"""

from __future__ import annotations

import copy
from typing import Any

from tests.contract.seed import Seeded


def request_examples(seeded: Seeded) -> dict[str, dict[str, Any]]:
    """operationId -> named request bodies that the service accepts."""
    by_id, by_name = seeded.free_vms[0], seeded.free_vms[-1]
    return {
        "reprotect": {
            "by_item_id": {"vms": [{"item_id": by_id["id"]}]},
            "by_vault_and_name": {"vms": [{"vault_id": seeded.vault_id, "vm_name": by_name["name"]}]},
        },
        "createWebhook": {
            "receiver": {"url": seeded.receiver_url, "event_types": ["reprotect.job.failed"], "description": "x"},
        },
        "updateWebhook": {"receiver": {"url": seeded.receiver_url, "enabled": True}},
        "rotateWebhookSecret": {"with_grace": {"grace_seconds": 60}},
        "createApiKey": {"reader": {"name": "contract reader", "role": "reader", "scopes": ["*"]}},
    }


def with_examples(document: dict[str, Any], examples: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """A copy of ``document`` whose JSON request bodies carry ``examples``; an unknown operationId fails."""
    document = copy.deepcopy(document)
    bodies = {
        operation["operationId"]: operation.get("requestBody", {}).get("content", {}).get("application/json")
        for path in document["paths"].values()
        for operation in path.values()
    }
    for operation_id, named in examples.items():
        media = bodies[operation_id]
        assert media is not None, f"{operation_id} takes no JSON body"
        media["examples"] = {name: {"value": value} for name, value in named.items()}
    return document
