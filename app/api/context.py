"""Per-request context: the ``x-request-id`` on every answer and log line, and the audit trail.

A pure ASGI middleware: it reads the id from the caller (if sane) or makes one, exposes it to logging
through a context variable, and after the answer writes an audit entry for every mutating call and
every refusal for lack of rights, with the principal the auth dependency left on the request.
"""

from __future__ import annotations

import itertools
import logging
import os
import re
import uuid
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app.auth import audit, service
from app.auth.principal import Principal
from app.db import utcnow
from app.logs import setup as log_setup
from app.logs.context import request_id_var
from app.settings import get_settings

REQUEST_ID_HEADER = "x-request-id"
_SANE_ID = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")
# Made ids: 64 random bits per process, then a counter (32 hex digits, as a UUID's). ``uuid4()`` per request
# reads the OS's random source, a system call that lets the worker threads take the GIL from the event loop.
_PROCESS_PREFIX = uuid.uuid4().hex[:16]
_SEQUENCE = itertools.count()


def _new_process_prefix() -> None:
    global _PROCESS_PREFIX
    _PROCESS_PREFIX = uuid.uuid4().hex[:16]


os.register_at_fork(after_in_child=_new_process_prefix)  # forked workers (gunicorn) never share a prefix
log = logging.getLogger(__name__)


class RequestIdFilter(logging.Filter):
    """Adds ``request_id`` to every log record (``-`` outside a request)."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.request_id = request_id_var.get()
        return True


def logging_config(level: str | None = None) -> dict[str, Any]:
    """``logging.config`` for the API process (``app.logs``): every line, uvicorn's included, names its request id,
    in the configured format (``REPROTECT_LOG__FORMAT``), with secrets blanked."""
    settings = get_settings()
    logging.captureWarnings(True)  # Python warnings become lines of the same schema, not raw stderr text
    log_settings = settings.log if level is None else settings.log.model_copy(update={"level": level.upper()})
    return log_setup.logging_config(log_settings, process="api", secrets=log_setup.secrets_of(settings))


class RequestContext:
    """Request id in and out, and the audit entry once the answer has gone."""

    def __init__(self, app: ASGIApp):
        self.app = app
        self.refusals = audit.RefusalSummary()  # this app's: one audit row per unauthenticated source and window

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        given = dict(scope.get("headers") or []).get(REQUEST_ID_HEADER.encode(), b"").decode("latin-1")
        request_id = given if given and _SANE_ID.match(given) else f"{_PROCESS_PREFIX}{next(_SEQUENCE):016x}"
        token = request_id_var.set(request_id)
        scope.setdefault("state", {})["request_id"] = request_id
        status = 500

        async def with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                message.setdefault("headers", [])
                message["headers"] = [*message["headers"], (REQUEST_ID_HEADER.encode(), request_id.encode())]
            await send(message)

        try:
            await self.app(scope, receive, with_id)
        finally:
            try:
                if audit.should_record(scope["method"], status):
                    await run_in_threadpool(_audit, scope, status, request_id, self.refusals)
            finally:
                request_id_var.reset(token)


def _audit(scope: Scope, status: int, request_id: str, refusals: audit.RefusalSummary) -> None:
    state: dict[str, Any] = scope.get("state", {})
    principal: Principal | None = state.get("principal")
    detail = None
    if principal is None and status in (401, 429):  # no valid credential: one row per source and window
        client = scope.get("client")
        detail = refusals.admit(client[0] if client else "unknown")
        if detail is None:
            return
    route = scope.get("route")
    container = scope["app"].state.container
    try:
        service.record_audit(
            container.sessions,
            at=utcnow(),
            request_id=request_id,
            principal=principal,
            method=scope["method"],
            route=str(getattr(route, "path", scope["path"])),
            path=scope["path"],
            status=status,
            vm_ids=list(state.get("audit_vms", [])),
            detail=detail,
        )
    except Exception:
        log.exception("could not write the audit entry of request %s", request_id)
