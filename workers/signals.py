"""What a worker or scheduler process does beside its tasks: its logging (``app.logs``), the request id of
each task, its heartbeat (``app.health``) and its started heap frozen (``app.heap``), hooked onto Celery's
signals."""

from __future__ import annotations

import atexit
import os
from typing import Any, Literal

from celery import signals

from app.health.heartbeat import Heartbeat
from app.heap import freeze_started_heap
from app.logs import setup as log_setup
from app.logs import task_context
from app.settings import get_settings

Role = Literal["worker", "scheduler"]
_beating: list[Heartbeat] = []


def install_task_hooks() -> None:
    """Tasks run with the request id their message carries (``app.logs.task_context``)."""
    task_context.install_task_hooks()


def serve_as(role: Role) -> list[str]:
    """Set this process up as a ``role``: our logging instead of Celery's, and a heartbeat once it runs.
    Returns the flags to put before Celery's sub-command (no banner on stdout when lines are JSON)."""
    settings = get_settings()

    def configure_logging(**_: Any) -> None:
        log_setup.configure(settings, process=role)

    configure_logging()  # now: Celery warns (running as root, say) before it sets logging up
    # Any receiver of setup_logging stops Celery from configuring logging itself.
    signals.setup_logging.connect(configure_logging, weak=False, dispatch_uid="reprotect.setup_logging")
    if role == "worker":
        # A prefork pool's children start after ``worker_ready``: each freezes its own started heap.
        signals.worker_process_init.connect(_freeze, weak=False, dispatch_uid="reprotect.freeze.child")
        signals.worker_ready.connect(_start_heartbeat("worker"), weak=False, dispatch_uid="reprotect.beat.worker")
        signals.worker_shutdown.connect(_stop_heartbeats, weak=False, dispatch_uid="reprotect.unbeat.worker")
    else:
        signals.beat_init.connect(_start_heartbeat("scheduler"), weak=False, dispatch_uid="reprotect.beat.scheduler")
    atexit.register(_stop_heartbeats)
    return ["--quiet"] if settings.log.format == "json" else []


def _start_heartbeat(kind: str) -> Any:
    def start(**_: Any) -> None:
        freeze_started_heap()  # started: the SDK's and our modules' objects out of every full collection
        settings = get_settings()
        heartbeat = Heartbeat(
            settings.database.url,
            kind=kind,
            interval_seconds=settings.health.heartbeat_seconds,
            broker_url=settings.broker.url,
            beat_file=settings.health.beat_file(kind, os.getpid()),
        )
        heartbeat.start()
        _beating.append(heartbeat)

    return start


def _freeze(**_: Any) -> None:
    freeze_started_heap()


def _stop_heartbeats(**_: Any) -> None:
    while _beating:
        _beating.pop().stop()
