"""The request id across the broker: the publisher writes it into each Celery message's headers, the worker
reads it back before the task runs and forgets it (and the job) after."""

from __future__ import annotations

from typing import Any

from celery import signals

from app.logs import context


def install_publish_hook() -> None:
    """Every message published from here on carries the current request id (once per process)."""
    signals.before_task_publish.connect(_stamp, weak=False, dispatch_uid="reprotect.logs.stamp_request_id")


def install_task_hooks() -> None:
    """Tasks run with the request id of the message that started them (once per worker process)."""
    signals.task_prerun.connect(_enter, weak=False, dispatch_uid="reprotect.logs.enter_task")
    signals.task_postrun.connect(_leave, weak=False, dispatch_uid="reprotect.logs.leave_task")


def _stamp(headers: dict[str, Any] | None = None, **_: Any) -> None:
    request_id = context.current_request_id()
    if request_id and headers is not None:
        headers.setdefault(context.TASK_HEADER, request_id)


def _enter(task: Any = None, **_: Any) -> None:
    context.clear()
    request = getattr(task, "request", None)
    given = getattr(request, context.TASK_HEADER, None) if request is not None else None
    if given is None and request is not None and isinstance(getattr(request, "headers", None), dict):
        given = request.headers.get(context.TASK_HEADER)
    context.bind_request(given if isinstance(given, str) else None)


def _leave(**_: Any) -> None:
    context.clear()
