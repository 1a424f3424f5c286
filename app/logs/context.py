"""What a log line is about, held in context variables: the API request, and the job a worker is advancing.

The API sets the request id per request; a Celery task takes it from its message headers (the publisher put
it there) or, for work the sweeper rang for, from the job row (``jobs.origin_request_id``). Every log line
and every history entry written meanwhile names it.
"""

from __future__ import annotations

import contextvars
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

NO_REQUEST = "-"
TASK_HEADER = "reprotect_request_id"  # the Celery message header carrying the API's request id
request_id_var: contextvars.ContextVar[str] = contextvars.ContextVar("request_id", default=NO_REQUEST)
# The job a line is about; None outside a job.
_JOB_FIELDS = ("job_id", "vm", "vault", "asr_job_id", "attempt", "state")
_job_vars: dict[str, contextvars.ContextVar[Any]] = {
    name: contextvars.ContextVar(f"log_{name}", default=None) for name in _JOB_FIELDS
}


def current_request_id() -> str | None:
    """The request id in force, or None."""
    value = request_id_var.get()
    return None if value == NO_REQUEST else value


def fields() -> dict[str, Any]:
    """The context every log line carries: the request id and the job fields (None when unknown)."""
    return {"request_id": current_request_id(), **{name: var.get() for name, var in _job_vars.items()}}


def bind_job(
    *,
    job_id: object,
    vm: str | None = None,
    vault: str | None = None,
    asr_job_id: str | None = None,
    attempt: int | None = None,
    state: str | None = None,
) -> None:
    """Name the job the current task is about (until :func:`clear`)."""
    given = {"job_id": str(job_id), "vm": vm, "vault": vault, "asr_job_id": asr_job_id, "attempt": attempt}
    given["state"] = state
    for name, value in given.items():
        if value is not None or name == "job_id":
            _job_vars[name].set(value)


def bind_request(request_id: str | None) -> None:
    """Name the API request the current task works for, when it is known."""
    if request_id:
        request_id_var.set(request_id)


def clear() -> None:
    """Forget the request and the job (a pooled worker thread goes on to another task)."""
    request_id_var.set(NO_REQUEST)
    for var in _job_vars.values():
        var.set(None)


@contextmanager
def about_request(request_id: str) -> Iterator[None]:
    """Lines and history written inside the block name ``request_id``."""
    token = request_id_var.set(request_id)
    try:
        yield
    finally:
        request_id_var.reset(token)


@contextmanager
def about_job(**given: Any) -> Iterator[None]:
    """Lines written inside the block name this job (``bind_job``'s fields); the previous context after."""
    saved = {name: var.get() for name, var in _job_vars.items()}
    try:
        bind_job(**given)
        yield
    finally:
        for name, value in saved.items():
            _job_vars[name].set(value)


@contextmanager
def scope() -> Iterator[None]:
    """Whatever the block binds is undone after it (a job step run in a thread that goes on to others)."""
    saved_request = request_id_var.get()
    saved = {name: var.get() for name, var in _job_vars.items()}
    try:
        yield
    finally:
        request_id_var.set(saved_request)
        for name, value in saved.items():
            _job_vars[name].set(value)
