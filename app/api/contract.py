"""The OpenAPI document as a contract portal teams can build on, completed after FastAPI generates it.

Adds, in one place rather than in every route: the Problem schema of every error answer (with the
``x-error-codes`` table), examples per operation and per problem status (``app.api.examples``), a
description for every parameter, the top-level tags, the webhook events (``app.api.webhook_docs``) and,
once ``api.public_base_url`` is set, the server clients should call.
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI

from app.api import error_codes, examples, webhook_docs
from app.api.problem_models import Problem
from app.api.problems import PROBLEM_JSON

TAGS: list[dict[str, str]] = [
    {"name": "reprotect", "description": "Check and submit VMs for reprotect (or only plan them); read a request."},
    {
        "name": "jobs",
        "description": "One job per VM: its state, steps, ASR tasks, ETA and error; cancel, retry, "
        "bulk actions and the fleet's summary.",
    },
    {"name": "events", "description": "A live stream of job transitions (Server-Sent Events), resumable."},
    {
        "name": "webhooks",
        "description": "Endpoints told of job and request outcomes (Standard Webhooks signatures), "
        "and every delivery with its attempts. The events themselves are under `webhooks`.",
    },
    {"name": "fleet", "description": "Every VM of the watched vaults with where it stands with respect to reprotect."},
    {"name": "admin", "description": "API keys and the audit log (admin role)."},
    {"name": "auth", "description": "Who the caller is to this service: its role and scopes."},
    {"name": "health", "description": "Liveness and readiness probes."},
    {
        "name": "drills",
        "description": "Test failover of protected VMs into an isolated network, and its cleanup: jobs of kind "
        "`drill` and `drill_cleanup`, followed under `jobs`.",
    },
    {
        "name": "failovers",
        "description": "Unplanned failover of protected VMs (the source shut down first) and its commit: jobs of "
        "kind `failover` and `commit`, followed under `jobs`.",
    },
    {
        "name": "campaigns",
        "description": "The whole way home for a set of VMs as one resource: reprotect, drill (and its gate), "
        "cleanup, failover in waves (each with its gate), commit, reprotect back; pause, resume, abort, retry a VM.",
    },
]

_PAGE_LIMIT = "How many items per page"
_CURSOR = "The `next_cursor` of the previous page; omit for the first page"
# (location, name) -> description, for parameters declared without one.
PARAMETERS: dict[tuple[str, str], str] = {
    ("path", "job_id"): "The job's id (from the 202 of `POST /reprotect` or `GET /jobs`)",
    ("path", "request_id"): "The reprotect request's id (from the 202 of `POST /reprotect`)",
    ("path", "webhook_id"): "The webhook endpoint's id",
    ("path", "delivery_id"): "The delivery's id (from `GET /webhook-deliveries`)",
    ("path", "key_id"): "The API key's id",
    ("header", "if-none-match"): "The ETag of a previous answer: 304 Not Modified while the job has not changed",
    ("query", "limit"): _PAGE_LIMIT,
    ("query", "cursor"): _CURSOR,
    ("query", "state"): "Only jobs in these states (repeatable)",
    ("query", "vault_id"): "Only jobs of these vaults (Recovery Services vault resource ids; repeatable)",
    ("query", "subscription_id"): "Only jobs whose vault is in this subscription",
    ("query", "request_id"): "Only those of this reprotect request",
    ("query", "job_id"): "Only deliveries about this job",
    ("query", "created_after"): "Only jobs created at or after this time",
    ("query", "created_before"): "Only jobs created before this time",
    ("query", "status"): "Only those with this status",
    ("query", "endpoint_id"): "Only deliveries to this endpoint",
    ("query", "event_type"): "Only deliveries of this event type",
    ("query", "group_by"): "How to group the counts",
    ("query", "principal_id"): "Only calls by this principal (API key id or Entra ID object id)",
    ("query", "outcome"): "Only calls with this outcome",
    ("query", "method"): "Only calls with this HTTP method",
    ("query", "since"): "Only calls at or after this time",
    ("query", "until"): "Only calls before this time",
    ("query", "target_region"): "Only VMs whose original (target) region is this one",
    ("query", "resource_group"): "Only VMs of this resource group",
    ("query", "name_prefix"): "Only VMs whose name starts with this (any letter case)",
}

# Error answers that are not problems (a probe's body), by operationId and status.
READINESS: dict[str, Any] = {
    "type": "object",
    "properties": {
        "status": {"type": "string", "description": "`ready` or `unavailable`"},
        "checks": {"type": "object", "additionalProperties": {"type": "string"}, "description": "Each dependency"},
    },
    "required": ["status"],
}
NOT_PROBLEMS: dict[tuple[str, str], dict[str, Any]] = {("readyz", "503"): READINESS, ("readyz", "200"): READINESS}


def _operations(document: dict[str, Any]) -> list[dict[str, Any]]:
    return [op for ops in document.get("paths", {}).values() for op in ops.values() if isinstance(op, dict)]


def _problem_schemas(components: dict[str, Any]) -> None:
    schema = Problem.model_json_schema(ref_template="#/components/schemas/{model}")
    for name, definition in schema.pop("$defs", {}).items():
        components.setdefault(name, definition)
    schema["x-error-codes"] = error_codes.openapi_extension()
    components["Problem"] = schema


def _example_objects(named: examples.Named) -> dict[str, dict[str, Any]]:
    return {name: {"summary": summary, "value": value} for name, (summary, value) in named.items()}


def _complete_errors(operation: dict[str, Any]) -> None:
    """Every 4xx/5xx answer described: the problem examples by status, and the non-problem bodies."""
    operation_id = operation.get("operationId", "")
    for status, answer in operation.get("responses", {}).items():
        own = NOT_PROBLEMS.get((operation_id, status))
        if own is not None and not answer.get("content", {}).get("application/json", {}).get("schema"):
            answer["content"] = {"application/json": {"schema": own}}
        if status[:1] not in ("4", "5") or PROBLEM_JSON not in answer.get("content", {}):
            continue
        named = examples.OPERATION_ONLY_PROBLEMS.get(operation_id, {}).get(int(status))
        if named is None:
            named = {**examples.PROBLEMS.get(int(status), {})}
            named |= examples.OPERATION_PROBLEMS.get(operation_id, {}).get(int(status), {})
        if named:
            answer["content"][PROBLEM_JSON].setdefault("examples", _example_objects(named))


def _add_examples(operation: dict[str, Any]) -> None:
    table = examples.OPERATIONS.get(operation.get("operationId", ""), {})
    body = operation.get("requestBody", {}).get("content", {}).get("application/json")
    if body is not None and table.get("request"):
        body.setdefault("examples", _example_objects(table["request"]))
    for status, named in table.get("responses", {}).items():
        content = operation.get("responses", {}).get(str(status), {}).get("content", {})
        if content and named:
            next(iter(content.values())).setdefault("examples", _example_objects(named))


def _describe_parameters(operation: dict[str, Any]) -> None:
    for parameter in operation.get("parameters", []):
        if not parameter.get("description"):
            described = PARAMETERS.get((parameter["in"], parameter["name"]))
            if described:
                parameter["description"] = described


def complete(document: dict[str, Any], *, public_base_url: str | None = None) -> dict[str, Any]:
    """``document`` completed as the module docstring says (changed in place, and returned)."""
    _problem_schemas(document.setdefault("components", {}).setdefault("schemas", {}))
    for operation in _operations(document):
        _complete_errors(operation)
        _add_examples(operation)
        _describe_parameters(operation)
    if public_base_url:
        document["servers"] = [{"url": public_base_url.rstrip("/"), "description": "This deployment"}]
    return document


def install(app: FastAPI, *, public_base_url: str | None = None) -> None:
    """Make ``app.openapi()`` serve the completed document (FastAPI's ``openapi_schema`` override)."""
    app.openapi_tags = TAGS
    webhook_docs.install(app)
    generate = app.openapi

    def openapi() -> dict[str, Any]:
        if not app.openapi_schema:
            document = generate()
            app.openapi_schema = None  # cached only once complete
            app.openapi_schema = complete(document, public_base_url=public_base_url)
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
