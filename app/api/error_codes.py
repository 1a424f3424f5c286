"""The catalogue of error codes a client can meet, with their HTTP status and meaning.

Three kinds: a problem's own ``code`` (the answer's); a per-VM ``code`` in the ``vms`` list of a
``prerequisites_failed`` refusal of ``POST /reprotect``; the ``details.reason`` of a refused receiver
URL. A code coming from
Azure itself (ASR's or ARM's, e.g. ``InvalidProtectionState``) can also appear in a 502 problem or in a
VM's refusal: those are Azure's own and not listed here.

Rendered as ``x-error-codes`` on the OpenAPI Problem schema and as the table in ``docs/error-codes.md``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

Scope = Literal["problem", "vm", "reason"]


@dataclass(frozen=True)
class ErrorCode:
    """One stable code: where it appears, with which HTTP status, what it means for the caller."""

    code: str
    status: int
    scope: Scope
    meaning: str


def _p(code: str, status: int, meaning: str) -> ErrorCode:
    return ErrorCode(code, status, "problem", meaning)


def _vm(code: str, meaning: str, status: int = 422) -> ErrorCode:
    return ErrorCode(code, status, "vm", meaning)


def _reason(code: str, meaning: str) -> ErrorCode:
    return ErrorCode(code, 422, "reason", meaning)


CATALOGUE: tuple[ErrorCode, ...] = (
    # Requests the service cannot read.
    _p("malformed_body", 400, "The body is not JSON."),
    _p("body_too_large", 413, "The body is larger than the service accepts (api.max_body_bytes)."),
    _p("unsupported_media_type", 415, "The body is not sent as application/json."),
    _p("method_not_allowed", 405, "The path does not serve this method; the Allow header lists those it does."),
    _p("validation_failed", 422, "The request does not match the schema; `errors` names each field and why."),
    _p("value_out_of_range", 422, "A value is valid JSON Schema but outside what the service stores."),
    _p("invalid_request", 422, "The request is well-formed but asks for something the service refuses."),
    _p("invalid_cursor", 422, "The cursor is not one this list issued; start again without it."),
    _p("invalid_item_id", 422, "item_id is not an ASR replication protected item resource id."),
    _p("invalid_vault_id", 422, "vault_id is not a Recovery Services vault resource id."),
    _p("invalid_resource_id", 422, "A customisation's resource id is not an Azure resource id of the right type."),
    _p("invalid_idempotency_key", 422, "The Idempotency-Key header is empty or too long."),
    _p("idempotency_key_reused", 422, "This Idempotency-Key was used with another body; use a new key."),
    _p("idempotency_key_in_use", 409, "A request with this Idempotency-Key is still being processed; retry later."),
    _p("invalid_last_event_id", 422, "Last-Event-ID is not an id this stream issued."),
    _p("last_event_id_too_old", 422, "The events after Last-Event-ID are no longer kept; re-read the jobs."),
    _p("last_event_id_unknown", 422, "Last-Event-ID names no event this service emitted; re-read the jobs."),
    _p("selector_too_broad", 422, "The fleet selector matches more VMs than one request may hold; narrow it."),
    _p("too_many_matches", 422, "The bulk filter matches more jobs than max_count; narrow it or raise max_count."),
    _p(
        "webhook_url_refused",
        422,
        "The receiver URL is not allowed (https only, no private address); `details.reason` says why.",
    ),
    _p("too_many_endpoints", 409, "The service holds as many webhook endpoints as it may (webhook.max_endpoints)."),
    _p("invalid_expiry", 422, "An API key's expires_at is not in the future."),
    _p("expiry_beyond_creator", 422, "An API key's expires_at is after the key creating it expires."),
    _p("creator_revoked", 403, "The API key creating a key was revoked meanwhile."),
    _p("invalid_scope", 422, "A scope is not a vault or subscription resource id, nor `*`."),
    # Who the caller is and what it may do.
    _p("unauthenticated", 401, "No credentials: send an API key or an Entra ID bearer token."),
    _p("invalid_api_key", 401, "The API key is unknown, revoked or expired."),
    _p("invalid_token", 401, "The bearer token is malformed, wrongly signed or not for this API."),
    _p("token_expired", 401, "The bearer token has expired; get a new one."),
    _p("token_not_yet_valid", 401, "The bearer token's nbf is in the future (check the clock)."),
    _p("algorithm_not_allowed", 401, "The bearer token is signed with an algorithm the service refuses."),
    _p("unknown_key", 401, "The bearer token names a signing key the identity provider does not publish."),
    _p("jwks_unavailable", 503, "The identity provider's signing keys cannot be fetched; retry later."),
    _p("insufficient_role", 403, "The caller's role does not allow this operation (reader < operator < admin)."),
    _p("outside_scope", 403, "The VM, vault or job lies outside the caller's scopes."),
    _p("role_escalation", 403, "An API key may not be given a role above its creator's."),
    _p("scope_escalation", 403, "An API key may not be given scopes beyond its creator's."),
    _p("forbidden", 403, "The caller may not do this."),
    _p("rate_limited", 429, "The caller's request budget is spent; retry after the Retry-After header's seconds."),
    # Resources that do not exist (or are not visible to the caller).
    _p("not_found", 404, "No such path or resource."),
    _p("job_not_found", 404, "No job with this id is visible to the caller."),
    _p("request_not_found", 404, "No reprotect request with this id is visible to the caller."),
    _p("webhook_not_found", 404, "No webhook endpoint with this id."),
    _p("delivery_not_found", 404, "No webhook delivery with this id is visible to the caller."),
    _p("api_key_not_found", 404, "No API key with this id."),
    # Clashes with the current state.
    _p(
        "prerequisites_failed",
        422,
        "Some VMs cannot be reprotected; nothing was submitted. `vms` lists each VM "
        "with its own code (409 when a VM clashes with running work).",
    ),
    _p("vm_has_active_job", 409, "A job is already reprotecting this VM; follow it or cancel it."),
    _p("job_terminal", 409, "The job has finished; it can no longer be cancelled."),
    _p("job_not_failed", 409, "Only a failed job can be retried."),
    _p("cancel_not_allowed", 409, "The job is past the point where it can be cancelled (Azure is reprotecting)."),
    _p("submission_in_progress", 409, "The job is submitting to Azure right now; try again in a moment."),
    _p("invalid_transition", 409, "The job cannot move from its current state to the one asked."),
    _p("concurrent_update", 409, "Someone changed the job meanwhile; nothing was recorded, try again."),
    _p("delivery_pending", 409, "The delivery is still being attempted; redeliver once it has finished."),
    _p("webhook_disabled", 409, "The endpoint is disabled; enable it (PATCH enabled=true) first."),
    _p("conflict", 409, "The request clashes with the current state."),
    # The service and its dependencies.
    _p("too_many_streams", 429, "The caller holds as many event streams as it may; close one or poll."),
    _p("streams_exhausted", 503, "This API process serves as many event streams as it may; retry or poll."),
    _p("database_unavailable", 503, "The job database is not reachable; nothing was recorded. Retry shortly."),
    _p(
        "secret_unavailable",
        503,
        "This replica cannot open a stored secret the answer needs (it lacks the key during a rolling key change, "
        "or reads an older format during an upgrade); nothing was changed. Retry shortly. A stored secret that "
        "does not open at all (altered, damaged) is a 500 internal_error.",
    ),
    _p("internal_error", 500, "An unexpected error; the X-Request-Id header identifies it in the logs."),
    _p("azure_throttled", 503, "Azure Resource Manager is throttling the service; retry after Retry-After."),
    _p("azure_transient", 503, "Azure answered 5xx or timed out; retry after Retry-After."),
    _p("azure_auth_failed", 502, "The service's own Azure identity cannot sign in (Entra ID or ARM 401)."),
    _p("azure_forbidden", 502, "The service's Azure identity lacks a role; `details` name the action and scope."),
    _p("azure_refused", 502, "Azure refused the request for good; `details` carry Azure's code and message."),
    _p("azure_error", 502, "Azure answered with an error the service could not classify."),
    _p("no_operation", 502, "Azure accepted an operation but named no operation to follow."),
    _p("unreadable_azure_answer", 502, "Azure answered with an id or shape the service cannot read."),
    # Per VM, in the `vms` list of a refusal of POST /reprotect.
    _vm("vm_not_found", "No replication protected item with this id, or no VM of this name in the vault."),
    _vm("duplicate_vm", "The request names this VM twice (by item id and by vault and name)."),
    _vm("vm_has_active_job", "A job is already reprotecting this VM.", status=409),
    _vm("operation_in_progress", "ASR is running another operation on this item; wait for it.", status=409),
    _vm("not_failed_over", "The VM has not failed over: there is nothing to reprotect."),
    _vm("failover_not_committed", "The failover is not committed yet; commit it in ASR first."),
    _vm("invalid_protection_state", "The item's protection state does not allow reprotect."),
    _vm("reprotect_not_allowed", "ASR does not list reprotect (ReverseReplicate) among the item's allowed operations."),
    _vm("unmanaged_disks_not_supported", "The VM has unmanaged disks; reprotect supports managed disks only."),
    _vm("target_region_unavailable", "Azure Resource Health reports an outage in the target (original) region."),
    _vm("target_region_unreachable", "The target region did not answer reads of what reprotect writes to."),
    _vm("source_vm_moved", "The original VM was moved to another resource group or subscription."),
    _vm("source_vm_deleted", "The original VM was deleted: reprotect would need a new target; name one."),
    _vm("failed_over_vm_not_found", "The failed-over VM in the recovery region does not exist."),
    _vm("reverse_container_mapping_missing", "No protection container mapping for the reverse direction."),
    _vm("reverse_network_mapping_missing", "No network mapping for the reverse direction; name a target network."),
    _vm("network_not_changeable", "The target network cannot be changed on reprotect."),
    _vm("target_resource_group_unknown", "No target resource group can be derived; name target_resource_group_id."),
    _vm("target_resource_group_not_changeable", "The target resource group cannot be changed on reprotect."),
    _vm("cache_storage_account_not_storage", "cache_storage_account_id is not a storage account."),
    _vm("cache_storage_account_name_invalid", "The cache storage account name is not a valid storage account name."),
    _vm("cache_storage_account_group_not_found", "The cache storage account's resource group does not exist."),
    _vm("cache_storage_account_name_taken", "The cache storage account name is taken elsewhere in Azure."),
    _vm("cache_storage_account_wrong_region", "The cache storage account is not where the VM runs now."),
    _vm("cache_storage_account_unsuitable", "The cache storage account cannot be used (kind, tier or access)."),
    _vm("proximity_placement_group_not_found", "The proximity placement group named does not exist."),
    _vm("scale_set_not_found", "The virtual machine scale set named does not exist."),
    _vm("encryption_keys_unavailable", "The disk encryption keys (ADE or disk encryption set) cannot be read."),
    _vm("azure_refused", "Azure refused a read of this VM's prerequisites; `asr_error` carries its answer."),
    _vm("not_submitted", "Refused with its batch of a fleet selector; submit it again."),
    # The drills (POST /drills, POST /drills/{request_id}/cleanup): problems, then per VM.
    _p("test_network_not_found", 422, "The isolated test network named by test_network_id does not exist."),
    _p("not_a_drill", 409, "The request named is not a drill: only a drill's test failovers can be cleaned up."),
    _vm("test_failover_not_allowed", "ASR does not list TestFailover among the item's allowed operations now."),
    _vm(
        "test_failover_cleanup_not_allowed",
        "ASR does not list TestFailoverCleanup among the item's allowed operations (no test failover to clean up).",
    ),
    _vm("no_app_consistent_point", "latest_app_consistent was asked but ASR lists no app-consistent recovery point."),
    # The failovers (POST /failovers, POST /failovers/{request_id}/commit): problems, then per VM.
    _p(
        "not_a_failover",
        409,
        "The request named is not a failover: only a failover request's failovers can be committed.",
    ),
    _p(
        "no_failover_done",
        409,
        "No failover of the request named is done yet: nothing to commit (retry a failed one, then commit again).",
    ),
    _vm("failover_not_allowed", "ASR does not list UnplannedFailover among the item's allowed operations now."),
    _vm(
        "already_home",
        "The VM already runs in the region its replication was first enabled from: a failover would take it away.",
    ),
    _vm("commit_not_allowed", "ASR does not list Commit among the item's allowed operations (no failover to commit)."),
    # Campaigns (issue 15, slice 3).
    _p("campaign_not_found", 404, "No campaign with this id in your scopes."),
    _p("campaign_vm_not_found", 404, "The campaign has no VM of this name."),
    _p(
        "campaign_state_conflict",
        409,
        "The campaign is not in a state this action applies to (`details.state`): e.g. approving a campaign that "
        "waits at no gate, pausing one that has ended.",
    ),
    _p("campaign_moved", 409, "The scheduler moved the campaign at the same moment; read it and try again."),
    _p("vm_name_ambiguous", 409, "Two VMs of the campaign share this name: name the VM's vault_id too."),
    _p("vm_not_failed", 409, "The VM has not failed (nor been refused) in the campaign's current step."),
    _p("selector_empty", 422, "The campaign's selector matches no VM."),
    _p("too_many_vms", 422, "A campaign takes at most 500 VMs; split it."),
    _p("unknown_wave", 422, "`wave_gates` names a wave no VM of the campaign is in."),
    _p("vm_in_campaign", 409, "Another campaign took one of these VMs at the same moment; read it and try again."),
    _vm(
        "vm_in_campaign",
        "The VM is already in an unfinished campaign (named): abort it or wait for it to end.",
        status=409,
    ),
    _vm("no_test_network", "The campaign names no test network in the region where this VM's drill runs."),
    # Why a receiver URL is refused: `details.reason` of a webhook_url_refused problem.
    _reason("invalid_url", "Not an absolute URL with a host."),
    _reason("scheme_not_allowed", "Not https (plain http only where webhook.allow_http is set)."),
    _reason("credentials_in_url", "The URL carries a user name or password."),
    _reason("unresolvable_host", "The host name does not resolve."),
    _reason("address_not_allowed", "The host resolves to a private, loopback, link-local or metadata address."),
)


def by_code(scope: Scope) -> dict[str, ErrorCode]:
    """The catalogue's entries of one scope, by code."""
    return {entry.code: entry for entry in CATALOGUE if entry.scope == scope}


def openapi_extension() -> list[dict[str, object]]:
    """The ``x-error-codes`` table of the Problem schema."""
    return [
        {"code": e.code, "status": e.status, "scope": e.scope, "meaning": e.meaning}
        for e in sorted(CATALOGUE, key=lambda e: (e.scope, e.status, e.code))
    ]


def _cell(text: str) -> str:
    return text.replace("|", "\\|")


def markdown() -> str:
    """``docs/error-codes.md``: both tables, generated (``make openapi``)."""
    lines = [
        "# Error codes",
        "",
        "Generated from `app/api/error_codes.py` by `make openapi`; do not edit by hand.",
        "",
        "Every error is an RFC 9457 `application/problem+json` document with a stable `code`. A refusal of",
        "`POST /reprotect` also lists each VM that cannot be reprotected in `vms`, each with its own `code`.",
        "Codes of Azure's own (ASR, ARM) can appear in a 502 problem's `details` or a VM's `asr_error`.",
        "",
        "## Problem codes",
        "",
        "| code | HTTP status | meaning |",
        "| --- | --- | --- |",
    ]
    headings = {
        "vm": "## Per-VM codes (`vms[].code`)",
        "reason": "## Why a receiver URL is refused (`details.reason` of `webhook_url_refused`)",
    }
    for scope, heading in (("problem", None), *headings.items()):
        if heading:
            lines += ["", heading, "", "| code | HTTP status of the refusal | meaning |", "| --- | --- | --- |"]
        entries = sorted((e for e in CATALOGUE if e.scope == scope), key=lambda e: (e.status, e.code))
        lines += [f"| `{e.code}` | {e.status} | {_cell(e.meaning)} |" for e in entries]
    return "\n".join(lines) + "\n"
