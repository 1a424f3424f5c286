"""Unknown query parameters are refused, on every route: ``?location=eastasia`` on a route without that
filter is a 422 problem naming it, never silently ignored (a dashboard would show every job as filtered).
A NUL character in a known one is a 422 too (no database text column holds it: never a 500).

One dependency on the app (``FastAPI(dependencies=...)``) checks each call against the query parameters
the matched route declares (its own and its dependencies'), computed once per route.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qsl

from fastapi import FastAPI, Request
from fastapi.dependencies.models import Dependant
from fastapi.exceptions import RequestValidationError
from fastapi.routing import APIRoute
from pydantic import BaseModel


def declared(route: APIRoute) -> frozenset[str]:
    """The query parameter names ``route`` accepts (aliases as callers spell them)."""
    names: set[str] = set()
    pending: list[Dependant] = [route.dependant]
    while pending:
        dependant = pending.pop()
        for param in dependant.query_params:
            model = param.field_info.annotation
            if isinstance(model, type) and issubclass(model, BaseModel):  # a Query() model: its fields
                names.update(field.alias or name for name, field in model.model_fields.items())
            else:
                names.add(param.alias)
        pending.extend(dependant.dependencies)
    return frozenset(names)


_DECLARED: dict[int, frozenset[str]] = {}


async def known_only(request: Request) -> None:
    """App-wide dependency: a 422 validation problem naming every query parameter the route does not declare
    (async: it never blocks, so it costs no thread hop)."""
    raw = request.scope.get("query_string", b"")
    route = request.scope.get("route")
    if not raw or not isinstance(route, APIRoute):
        return
    allowed = _DECLARED.get(id(route))
    if allowed is None:
        allowed = _DECLARED[id(route)] = declared(route)
    pairs = parse_qsl(raw.decode("latin-1"), keep_blank_values=True)
    accepted = ", ".join(sorted(allowed)) or "none"
    errors = [
        {
            "type": "unknown_query_parameter",
            "loc": ("query", name),
            "msg": f"Unknown query parameter; this route accepts: {accepted}.",
            "input": name,
        }
        for name in sorted({name for name, _ in pairs} - allowed)
    ]
    # A NUL can be held by no database text column (Postgres refuses it): a bad value, never a 500.
    errors += [
        {"type": "nul_character", "loc": ("query", name), "msg": "NUL characters are not allowed.", "input": name}
        for name, value in pairs
        if "\x00" in value and name in allowed
    ]
    if errors:
        raise RequestValidationError(errors)


NO_NUL = "^[^\\x00]*$"


def _string_schemas(schema: dict[str, Any]) -> list[dict[str, Any]]:
    if schema.get("type") == "string":
        return [schema]
    return [s for option in schema.get("anyOf", []) for s in _string_schemas(option)]


def document_rules(document: dict[str, Any]) -> dict[str, Any]:
    """State the NUL rule in the OpenAPI document: every string query parameter without a pattern gets one
    that excludes NUL (clients and contract testers see what the API refuses)."""
    for operations in document.get("paths", {}).values():
        for operation in operations.values():
            for parameter in operation.get("parameters", []) if isinstance(operation, dict) else []:
                if parameter.get("in") != "query":
                    continue
                for schema in _string_schemas(parameter.get("schema", {})):
                    schema.setdefault("pattern", NO_NUL)
    return document


def install(app: FastAPI) -> None:
    """Make ``app.openapi()`` carry the NUL rule on every string query parameter."""
    generate = app.openapi

    def openapi() -> dict[str, Any]:
        if not app.openapi_schema:
            app.openapi_schema = document_rules(generate())
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
