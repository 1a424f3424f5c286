"""Failures the contract run lets pass, each with its reason, matched narrowly and counted.

``SEMANTIC_REFUSALS`` stay: a schema-valid request the service rightly refuses for a reason no JSON
Schema can state (an opaque cursor it never issued, a URL resolving to a forbidden network, a VM that
Azure says cannot be reprotected, a date already past). ``KNOWN_FINDINGS`` are what this suite found
and what awaits a fix; each names its strict-xfail test in ``test_regressions.py``. When a fix flips
that test, delete the test's marker and the entry here. ``TOOL_QUIRKS`` are Schemathesis's own mistakes.
"""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from schemathesis import Case, Response
from schemathesis.core.failures import Failure
from schemathesis.openapi.checks import RejectedPositiveData

# Per-VM refusals of POST /reprotect that depend on what Azure holds, not on the request's shape.
AZURE_STATE_CODES = frozenset(
    {
        "prerequisites_failed",
        "vm_not_found",
        "failover_not_committed",
        "not_failed_over",
        "invalid_protection_state",
        "reprotect_not_allowed",
        "target_region_unavailable",
        "target_region_unreachable",
        "source_vm_moved",
        "source_vm_deleted",
        "failed_over_vm_not_found",
        "reverse_container_mapping_missing",
        "reverse_network_mapping_missing",
        "cache_storage_account_wrong_region",
        "cache_storage_account_unsuitable",
        "cache_storage_account_name_invalid",
        "cache_storage_account_not_storage",
        "cache_storage_account_group_not_found",
        "cache_storage_account_name_taken",
        "proximity_placement_group_not_found",
        "target_resource_group_unknown",
        "target_resource_group_not_changeable",
        "azure_refused",
        "duplicate_vm",  # the same VM by item id and by vault + name: only Azure knows they are one
    }
)


@dataclass(frozen=True)
class Tolerated:
    """Failures of class ``failure`` on ``operation`` (any when None) whose answer carries only ``codes``."""

    name: str
    failure: type[Failure]
    reason: str
    operation: str | None = None
    codes: frozenset[str] = frozenset()  # the answer's problem codes (its own and its VMs') must lie in here
    detail_contains: str = ""
    message_contains: str = ""
    null_in_path: bool = False  # only when a path parameter was null (sent as "None")
    regression: str | None = None

    def matches(self, failure: Failure, case: Case, response: Response) -> bool:
        found = problem_codes(response)
        return (
            isinstance(failure, self.failure)
            and self.operation in (None, case.operation.label)
            and (not self.codes or (bool(found) and found <= self.codes))
            and self.message_contains in failure.message
            and self.detail_contains in (_problem(response) or {}).get("detail", "")
            and (not self.null_in_path or any(v in (None, "None") for v in (case.path_parameters or {}).values()))
        )


def _problem(response: Response) -> dict[str, Any] | None:
    if "problem+json" not in (response.headers.get("content-type") or [""])[0]:
        return None
    try:
        body = json.loads(response.content)
    except ValueError:
        return None
    return body if isinstance(body, dict) else None


def problem_code(response: Response) -> str | None:
    """The ``code`` of a problem+json answer, None for anything else."""
    return (_problem(response) or {}).get("code")


def problem_codes(response: Response) -> frozenset[str]:
    """The answer's problem code and those of the VMs it lists."""
    body = _problem(response) or {}
    vms = body.get("vms") if isinstance(body.get("vms"), list) else []
    return frozenset(str(c) for c in [body.get("code"), *(v.get("code") for v in vms if isinstance(v, dict))] if c)


SEMANTIC_REFUSALS: tuple[Tolerated, ...] = (
    Tolerated(
        "opaque cursor",
        RejectedPositiveData,
        "A cursor is a token the service issued; any other string is refused (422 invalid_cursor).",
        codes=frozenset({"invalid_cursor"}),
    ),
    Tolerated(
        "receiver URL policy",
        RejectedPositiveData,
        "Whether a URL is admissible (absolute, https, resolving outside private networks) depends on DNS "
        "and the SSRF policy, not on its shape (422 webhook_url_refused, for url and callback_url).",
        codes=frozenset({"webhook_url_refused"}),
    ),
    Tolerated(
        "Azure state",
        RejectedPositiveData,
        "Whether a VM can be reprotected is Azure's state, checked before anything is accepted (422).",
        operation="POST /reprotect",
        codes=AZURE_STATE_CODES,
    ),
    Tolerated(
        "Azure state (drills)",
        RejectedPositiveData,
        "Whether a VM can be drilled (its allowed operations, an active job, an app-consistent point) and whether "
        "the test network exists are Azure's state and ours, checked before anything is accepted (422).",
        operation="POST /drills",
        codes=AZURE_STATE_CODES
        | {"test_network_not_found", "test_failover_not_allowed", "no_app_consistent_point", "vm_has_active_job"},
    ),
    Tolerated(
        "Azure state (failovers)",
        RejectedPositiveData,
        "Whether a VM can fail over (its allowed operations, an active job, an app-consistent point, being away "
        "from home) is Azure's state and ours, checked before anything is accepted (422).",
        operation="POST /failovers",
        codes=AZURE_STATE_CODES
        | {"failover_not_allowed", "no_app_consistent_point", "vm_has_active_job", "already_home"},
    ),
    Tolerated(
        "Azure state (campaigns)",
        RejectedPositiveData,
        "Whether VMs can join a campaign is Azure's state and ours: each must exist (a selector must match some), "
        "not be in another unfinished campaign, and a wave gate must name a wave some VM is in (422 / 409).",
        operation="POST /campaigns",
        codes=AZURE_STATE_CODES
        | {"selector_empty", "selector_too_broad", "unknown_wave", "vm_in_campaign", "too_many_vms", "already_home"}
        | {"vm_has_active_job", "no_test_network", "reprotect_not_allowed", "test_network_not_found"},
    ),
    Tolerated(
        "campaign options that go together",
        RejectedPositiveData,
        "A campaign with a drill (the default) needs its test networks, and wave_size cuts a selector's VMs into "
        "waves; both are said in the schema's descriptions, not as JSON Schema constraints (422 naming the rule).",
        operation="POST /campaigns",
        codes=frozenset({"validation_failed"}),
        detail_contains="body: Value error, ",
    ),
    Tolerated(
        "Azure state (commit)",
        RejectedPositiveData,
        "Whether a failover can be committed is the item's state in Azure (422 commit_not_allowed).",
        operation="POST /failovers/{request_id}/commit",
        codes=AZURE_STATE_CODES | {"commit_not_allowed", "vm_has_active_job", "no_failover_done"},
    ),
    Tolerated(
        "idempotency key reused",
        RejectedPositiveData,
        "The same Idempotency-Key with another body is refused (422, as the IETF draft asks); the run "
        "sends generated keys again with new bodies.",
        operation="POST /reprotect",
        codes=frozenset({"idempotency_key_reused"}),
    ),
    Tolerated(
        "timestamp outside the stored range",
        RejectedPositiveData,
        "A date-time JSON Schema accepts can fall outside what the database holds once in UTC (year 1 with a "
        "+21:39 offset is year 0): refused as a bad value (422 value_out_of_range), never a 500.",
        codes=frozenset({"value_out_of_range"}),
    ),
    Tolerated(
        "expiry in the past",
        RejectedPositiveData,
        "A key cannot expire before it is created; 'in the future' is not a JSON Schema constraint.",
        operation="POST /api-keys",
        codes=frozenset({"invalid_expiry"}),
    ),
)

TOOL_QUIRKS: tuple[Tolerated, ...] = (
    Tolerated(
        "null id from an inferred link",
        RejectedPositiveData,
        "Schemathesis infers links (e.g. from a delivery's nullable job_id) and then puts null into a path as "
        "'None'; the service rightly answers 422 - not a finding.",
        codes=frozenset({"validation_failed"}),
        null_in_path=True,
    ),
)

# What this suite found is fixed; each finding keeps a plain regression test in test_regressions.py.
# A new finding goes here, naming its strict-xfail test, until it is fixed.
KNOWN_FINDINGS: tuple[Tolerated, ...] = ()


@dataclass
class FailureFilter:
    """A Schemathesis ``filter_failure`` hook dropping tolerated failures, counting each by name."""

    tolerated: tuple[Tolerated, ...] = SEMANTIC_REFUSALS + TOOL_QUIRKS + KNOWN_FINDINGS
    seen: Counter[str] = field(default_factory=Counter)

    def __call__(self, context: Any, failure: Failure, case: Case, response: Response) -> bool:
        """Keep the failure unless it is tolerated."""
        for entry in self.tolerated:
            if entry.matches(failure, case, response):
                self.seen[entry.name] += 1
                return False
        return True
