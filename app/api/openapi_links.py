"""OpenAPI ``links`` between operations: how an answer's ids feed the next call (request → jobs, webhooks).

Clients and stateful testers (Schemathesis) follow them. They are added to ``app.openapi()`` by operationId,
and a link naming an operation, answer or parameter the app does not have fails the document loudly.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from fastapi import FastAPI


class LinkError(RuntimeError):
    """A link names an operation, an answer or a parameter the document does not have."""


@dataclass(frozen=True)
class Link:
    """From the ``status`` answer of operation ``source``, call ``target`` with these runtime expressions."""

    source: str
    status: str
    name: str
    target: str
    parameters: tuple[tuple[str, str], ...]
    description: str


def _each(source: str, status: str, ids: str, targets: dict[str, tuple[str, str, str]]) -> list[Link]:
    """Links from one answer: ``targets`` maps a link name to (operationId, parameter, what it does)."""
    return [
        Link(source, status, name, target, ((parameter, ids),), description)
        for name, (target, parameter, description) in targets.items()
        if target != source  # an answer naming its own resource: reading it again tells nothing new
    ]


def _job_links() -> dict[str, tuple[str, str, str]]:
    return {
        "GetJob": ("getJob", "job_id", "Poll the job"),
        "CancelJob": ("cancelJob", "job_id", "Cancel the job"),
        "RetryJob": ("retryJob", "job_id", "Run the failed job again"),
    }


def _webhook_links() -> dict[str, tuple[str, str, str]]:
    return {
        "GetWebhook": ("getWebhook", "webhook_id", "Read the endpoint back"),
        "UpdateWebhook": ("updateWebhook", "webhook_id", "Change the endpoint"),
        "RotateWebhookSecret": ("rotateWebhookSecret", "webhook_id", "Rotate its signing secret"),
        "DeleteWebhook": ("deleteWebhook", "webhook_id", "Stop delivering to it"),
    }


def _delivery_links() -> dict[str, tuple[str, str, str]]:
    return {
        "GetWebhookDelivery": ("getWebhookDelivery", "delivery_id", "Read the delivery with its attempts"),
        "RedeliverWebhook": ("redeliverWebhook", "delivery_id", "Send the event again"),
    }


def _next_page(source: str) -> Link:
    return Link(source, "200", "NextPage", source, (("cursor", "$response.body#/next_cursor"),), "The next page")


def _request_of(source: str, status: str, ids: str) -> Link:
    return Link(source, status, "GetReprotectRequest", "getReprotectRequest", (("request_id", ids),), "The request")


LINKS: tuple[Link, ...] = (
    # A reprotect request and its jobs.
    _request_of("reprotect", "202", "$response.body#/request_id"),
    *_each("reprotect", "202", "$response.body#/jobs/0/id", _job_links()),
    Link("reprotect", "202", "ListJobs", "listJobs", (("request_id", "$response.body#/request_id"),), "Its jobs"),
    *_each("getReprotectRequest", "200", "$response.body#/jobs/0/id", _job_links()),
    *_each("listJobs", "200", "$response.body#/items/0/id", _job_links()),
    _request_of("listJobs", "200", "$response.body#/items/0/request_id"),
    _next_page("listJobs"),
    *_each("getJob", "200", "$response.body#/id", _job_links()),
    _request_of("getJob", "200", "$response.body#/request_id"),
    *_each("cancelJob", "202", "$response.body#/id", {"GetJob": ("getJob", "job_id", "Poll the job")}),
    *_each("retryJob", "202", "$response.body#/id", {"GetJob": ("getJob", "job_id", "Poll the new attempt")}),
    # Webhook endpoints.
    *_each("createWebhook", "201", "$response.body#/id", _webhook_links()),
    *_each("listWebhooks", "200", "$response.body#/items/0/id", _webhook_links()),
    _next_page("listWebhooks"),
    *_each("getWebhook", "200", "$response.body#/id", _webhook_links()),
    *_each("updateWebhook", "200", "$response.body#/id", _webhook_links()),
    *_each("rotateWebhookSecret", "200", "$response.body#/id", {"GetWebhook": _webhook_links()["GetWebhook"]}),
    # Deliveries of webhook events.
    *_each("listWebhookDeliveries", "200", "$response.body#/items/0/id", _delivery_links()),
    _request_of("listWebhookDeliveries", "200", "$response.body#/items/0/request_id"),
    _next_page("listWebhookDeliveries"),
    *_each("getWebhookDelivery", "200", "$response.body#/id", _delivery_links()),
    *_each("redeliverWebhook", "202", "$response.body#/id", _delivery_links()),
)


def _operations(document: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Every operation of the document by operationId."""
    return {
        operation["operationId"]: operation
        for path in document.get("paths", {}).values()
        for operation in path.values()
        if isinstance(operation, dict) and "operationId" in operation
    }


def _check(link: Link, operations: dict[str, dict[str, Any]]) -> None:
    """Raise :class:`LinkError` unless the link's source answer, target and parameters all exist."""
    where = f"OpenAPI link {link.name!r} from {link.source!r}"
    if link.source not in operations:
        raise LinkError(f"{where}: no operation {link.source!r}")
    if link.status not in operations[link.source].get("responses", {}):
        raise LinkError(f"{where}: {link.source!r} has no {link.status} answer")
    if link.target not in operations:
        raise LinkError(f"{where}: no target operation {link.target!r}")
    declared = {parameter["name"] for parameter in operations[link.target].get("parameters", [])}
    for parameter, _ in link.parameters:
        if parameter not in declared:
            raise LinkError(f"{where}: {link.target!r} has no parameter {parameter!r}")


def add_links(document: dict[str, Any], links: tuple[Link, ...] = LINKS) -> dict[str, Any]:
    """``document`` with ``links`` added to the answers they start from (changed in place, and returned).

    Every link is checked before the document is touched, so a bad one leaves it as it was.
    """
    operations = _operations(document)
    names = [(link.source, link.status, link.name) for link in links]
    if len(names) != len(set(names)):
        raise LinkError(f"OpenAPI links named twice on one answer: {sorted({n for n in names if names.count(n) > 1})}")
    for link in links:
        _check(link, operations)
    for link in links:
        answer = operations[link.source]["responses"][link.status]
        answer.setdefault("links", {})[link.name] = {
            "operationId": link.target,
            "parameters": dict(link.parameters),
            "description": link.description,
        }
    return document


def install(app: FastAPI) -> None:
    """Make ``app.openapi()`` serve its document with :data:`LINKS` (FastAPI's ``openapi_schema`` override)."""
    generate = app.openapi

    def openapi() -> dict[str, Any]:
        if not app.openapi_schema:
            document = generate()
            app.openapi_schema = None  # cached only once the links are in: a bad link fails every call
            app.openapi_schema = add_links(document)
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
