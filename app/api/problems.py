"""RFC 9457 problem+json: the one table from service errors to HTTP statuses, and the handlers."""

from __future__ import annotations

import logging
import math
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy.exc import OperationalError, StatementError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from sqlalchemy.orm.exc import StaleDataError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import Match

from app.auth.tokens import AuthError, KeySetUnavailable
from app.errors import (
    CloudAuthFailed,
    CloudError,
    CloudForbidden,
    CloudPermanent,
    CloudThrottled,
    CloudTransient,
    Conflict,
    Forbidden,
    InvalidRequest,
    NotFound,
    PrerequisitesFailed,
    RateLimited,
    ServiceError,
)
from app.events.hub import StreamsExhausted
from app.sealed.envelope import NewerFormat
from app.sealed.keyring import KeyringError, UnknownKey

PROBLEM_JSON = "application/problem+json"
_METHODS = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS")
log = logging.getLogger(__name__)

_STATUS: list[tuple[type[ServiceError], int, str]] = [
    (StreamsExhausted, 503, "This API process serves as many event streams as it may"),
    (KeySetUnavailable, 503, "The identity provider's signing keys are unavailable"),
    (AuthError, 401, "Authentication required"),
    (Forbidden, 403, "Forbidden"),
    (RateLimited, 429, "Too many requests"),
    (NotFound, 404, "Not found"),
    (InvalidRequest, 422, "Invalid request"),
    (Conflict, 409, "Conflict"),
    (CloudThrottled, 503, "Azure is throttling requests"),
    (CloudTransient, 503, "Azure is temporarily unavailable"),
    # The service's own Azure identity failing is the server's fault, never the caller's, and it does not
    # pass with time: 502 (a gateway's upstream refused it), not 503 + Retry-After, not 401/403 (those would
    # say the *caller's* credentials are wrong). The problem's code says what to fix.
    (CloudAuthFailed, 502, "The service's Azure identity cannot sign in"),
    (CloudForbidden, 502, "The service's Azure identity lacks a permission"),
    (CloudPermanent, 502, "Azure refused the request"),
    (CloudError, 502, "Azure error"),
]


def problem(
    status: int, *, code: str, title: str, detail: str, headers: dict[str, str] | None = None, **extra: Any
) -> JSONResponse:
    """A problem+json answer with a stable ``code``."""
    body = {"type": f"urn:reprotect:problem:{code}", "title": title, "status": status, "detail": detail, "code": code}
    body.update(extra)
    return JSONResponse(body, status_code=status, media_type=PROBLEM_JSON, headers=headers)


def _service_error(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, ServiceError)
    return render_service_error(exc)


def render_service_error(exc: ServiceError) -> JSONResponse:
    """The problem+json answer for a service error (also stored for idempotent replays)."""
    if isinstance(exc, PrerequisitesFailed):
        return problem(
            409 if exc.conflict else 422,
            code=exc.code,
            title="Some VMs cannot be reprotected",
            detail=f"{exc.message}. Nothing was submitted; fix or remove these VMs and send the request again.",
            vms=[
                {
                    "vm": p.vm,
                    "code": p.code,
                    "message": p.message,
                    **({"asr_error": p.asr_error} if p.asr_error else {}),
                }
                for p in exc.problems
            ],
        )
    status, title = next((s, t) for cls, s, t in _STATUS if isinstance(exc, cls))
    headers = None
    retry_after = getattr(exc, "retry_after", None)
    if status in (429, 503):
        headers = {"Retry-After": str(max(1, math.ceil(retry_after or 5)))}
    if status == 401:
        headers = {"WWW-Authenticate": f'Bearer error="invalid_token", error_description="{exc.code}"'}
    extra = {"details": exc.details} if exc.details else {}
    return problem(status, code=exc.code, title=title, detail=exc.message, headers=headers, **extra)


def _validation_error(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    errors = [
        {"location": list(e.get("loc", ())), "message": str(e.get("msg", "")), "type": str(e.get("type", ""))}
        for e in exc.errors()
    ]
    return problem(
        422, code="validation_failed", title="The request is not valid", detail=_summary(errors), errors=errors
    )


def _summary(errors: list[dict[str, Any]]) -> str:
    first = errors[0] if errors else {"location": [], "message": "invalid"}
    where = ".".join(str(p) for p in first["location"] if p != "body") or "body"
    more = f" (and {len(errors) - 1} more)" if len(errors) > 1 else ""
    return f"{where}: {first['message']}{more}"


def _http_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    codes = {
        400: "malformed_body",
        404: "not_found",
        405: "method_not_allowed",
        413: "body_too_large",
        415: "unsupported_media_type",
    }
    code = codes.get(exc.status_code, f"http_{exc.status_code}")
    headers = dict(exc.headers) if exc.headers else None
    if exc.status_code == 405:  # Starlette names only the first route matching the path
        headers = {**(headers or {}), "Allow": _allowed_methods(request)}
    return problem(exc.status_code, code=code, title=str(exc.detail), detail=str(exc.detail), headers=headers)


def _allowed_methods(request: Request) -> str:
    """Every method some route serves at the request's path (RFC 9110: a 405 lists them all)."""
    routes = request.app.router.routes
    return ", ".join(
        method
        for method in _METHODS
        if any(route.matches({**request.scope, "method": method})[0] == Match.FULL for route in routes)
    )


def _stale(_: Request, exc: Exception) -> JSONResponse:
    return problem(409, code="concurrent_update", title="Conflict", detail="The job changed meanwhile; try again.")


def _database_down(_: Request, exc: Exception) -> JSONResponse:
    cause = getattr(exc, "orig", None) or exc
    state = getattr(cause, "sqlstate", None)
    if state in ("40P01", "40001"):  # deadlock / serialization failure: nothing was recorded, try again
        log.warning("transaction rolled back by the database (%s)", state)
        return problem(
            409,
            code="concurrent_update",
            title="Conflict",
            detail="A concurrent change got in the way; nothing was recorded. Try again.",
            headers={"Retry-After": "1"},
        )
    # Only the error's class: its text may quote statement parameters (secrets among them).
    log.warning("database unavailable: %s", type(cause).__name__)
    return problem(
        503,
        code="database_unavailable",
        title="Service unavailable",
        detail="The job database is not reachable; nothing was recorded. Retry shortly.",
        headers={"Retry-After": "5"},
    )


def _out_of_range(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StatementError)
    if not isinstance(exc.orig, OverflowError | ValueError):
        log.error("unexpected statement error: %s", type(exc.orig).__name__)
        return problem(500, code="internal_error", title="Internal error", detail="Unexpected database error.")
    return problem(
        422, code="value_out_of_range", title="The request is not valid", detail="A value is out of the range stored."
    )


def _secret_unavailable(_: Request, exc: Exception) -> JSONResponse:
    # Only the error's class: the message names no secret, but a stored secret not opening is the deployment's
    # problem, never the caller's. A key this replica lacks (a rolling key change) or a newer format (a rolling
    # upgrade) passes: another replica may answer, 503 + Retry-After. A value that does not open (altered,
    # damaged, moved) or keys this process cannot use do not pass with a retry: 500.
    log.error("a stored secret could not be opened: %s", type(exc).__name__)
    if isinstance(exc, UnknownKey | NewerFormat):
        return problem(
            503,
            code="secret_unavailable",
            title="Service unavailable",
            detail="This replica cannot open a stored secret the answer needs (it lacks the key it was sealed "
            "with, or reads an older format); nothing was changed. Retry shortly: another replica may answer.",
            headers={"Retry-After": "5"},
        )
    return problem(
        500,
        code="internal_error",
        title="Internal error",
        detail="A stored secret the answer needs does not open (altered or damaged in the database, or the "
        "service's keys cannot be used); nothing was changed. The X-Request-Id header identifies it in the logs.",
    )


def install(app: FastAPI) -> None:
    """Register the handlers on ``app``."""
    app.add_exception_handler(ServiceError, _service_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(StaleDataError, _stale)
    app.add_exception_handler(OperationalError, _database_down)
    app.add_exception_handler(StatementError, _out_of_range)
    app.add_exception_handler(PoolTimeout, _database_down)
    app.add_exception_handler(KeyringError, _secret_unavailable)


PROBLEM_SCHEMA = {"$ref": "#/components/schemas/Problem"}  # app.api.problem_models.Problem, added by app.api.contract
_ANSWERS = {
    400: "The body is not JSON (malformed_body)",
    401: "No valid credentials; the WWW-Authenticate header says why",
    403: "The caller's role or scopes do not allow this",
    404: "No such resource visible to the caller",
    409: "The request clashes with the current state",
    413: "The body is too large (body_too_large)",
    422: "The request does not validate, or asks for something the service refuses",
    429: "Too many requests: retry after Retry-After seconds",
    500: "An unexpected error (internal_error)",
    502: "Azure refused, or the service's Azure identity cannot act (the code says which)",
    503: "A dependency is unavailable (Azure throttling or down, the database): retry after Retry-After seconds",
}
_RETRY_AFTER = {"Retry-After": {"description": "Seconds to wait before retrying", "schema": {"type": "string"}}}
_HEADERS: dict[int, dict[str, Any]] = {
    401: {
        "WWW-Authenticate": {
            "description": "The Bearer challenge, naming the problem's code",
            "schema": {"type": "string"},
        }
    },
    429: _RETRY_AFTER,
    503: _RETRY_AFTER,
}


# How a route that needs a stored secret answers when this replica cannot open it (a rolling key change).
REPLICA_WITHOUT_KEY = (
    "This replica cannot open a stored secret the answer needs (secret_unavailable: it lacks the key, during a "
    "rolling key change or upgrade), the database is not reachable, or an Entra ID token's signing keys cannot "
    "be fetched (jwks_unavailable): retry after Retry-After seconds"
)


def documented(*statuses: int, answers: dict[int, str] | None = None) -> dict[int | str, dict[str, Any]]:
    """OpenAPI ``responses`` entries for problem answers: the Problem schema, with their headers; ``answers``
    describes a status the route's own way."""
    return {
        s: {
            "description": (answers or {}).get(s) or _ANSWERS.get(s, "Problem"),
            "content": {PROBLEM_JSON: {"schema": PROBLEM_SCHEMA}},
            **({"headers": _HEADERS[s]} if s in _HEADERS else {}),
        }
        for s in statuses
    }
