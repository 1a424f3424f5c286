"""The two line formats: one JSON object per line with a fixed schema (the same from the API, the worker and
the scheduler), and one readable text line for people running the stack on their machine."""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from typing import Any

from pythonjsonlogger.json import JsonFormatter

from app.logs import context

# Every JSON line has these keys, in this order (None when a field does not apply).
SCHEMA = (
    "timestamp",
    "level",
    "logger",
    "message",
    "process",
    "request_id",
    "job_id",
    "vm",
    "vault",
    "asr_job_id",
    "attempt",
    "state",
    "exception",
)
TEXT_FORMAT = "%(asctime)s %(levelname)s [%(request_id)s] %(name)s:%(job_context)s %(message)s"


class WithContext(logging.Filter):
    """Puts the request and job context on each record (for both formats)."""

    def filter(self, record: logging.LogRecord) -> bool:
        fields = context.fields()
        record.log_context = fields
        record.request_id = fields["request_id"] or context.NO_REQUEST
        job = fields["job_id"]
        if job is None:
            record.job_context = ""
        else:
            shown = [f"job={job}"] + [f"{k}={fields[k]}" for k in ("vm", "state", "attempt") if fields[k] is not None]
            record.job_context = " [" + " ".join(shown) + "]"
        return True


class JsonLines(JsonFormatter):
    """One JSON object per line with exactly :data:`SCHEMA`'s keys; ``process`` names the kind of process."""

    def __init__(self, *args: Any, process: str = "service", **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.process = process

    def add_fields(self, log_data: dict[str, Any], record: logging.LogRecord, message_dict: dict[str, Any]) -> None:
        fields: dict[str, Any] = getattr(record, "log_context", None) or context.fields()
        log_data.clear()
        log_data.update(
            {
                "timestamp": datetime.fromtimestamp(record.created, tz=UTC).isoformat(timespec="milliseconds"),
                "level": record.levelname,
                "logger": record.name,
                "message": record.getMessage(),
                "process": self.process,
                **{name: fields.get(name) for name in SCHEMA[5:-1]},
                "exception": message_dict.get("exc_info") or None,
            }
        )
