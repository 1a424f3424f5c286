"""Logging for one process (API, worker or scheduler): the configured format and level, the context and
redaction filters on the one handler, and the noisy libraries (Azure SDK HTTP lines, Celery's per-task lines)
kept quiet unless asked."""

from __future__ import annotations

import logging
import logging.config
import os
from typing import Any

from app.logs.formatting import TEXT_FORMAT
from app.settings import LogSettings, Settings

# Loggers that print every HTTP exchange or every task: at the Azure level, or WARNING at INFO.
AZURE_LOGGERS = ("azure", "azure.core.pipeline.policies.http_logging_policy", "azure.identity")
# Celery's "Task … received" lines (celery.worker.strategy) stay: they show a message reached a worker.
PER_TASK_LOGGERS = ("celery.app.trace", "celery.beat", "httpx", "httpcore")
UVICORN_LOGGERS = ("uvicorn", "uvicorn.error", "uvicorn.access")


def secrets_of(settings: Settings) -> list[str]:
    """The configured secret values, blanked wherever a line would show them."""
    values = [settings.azure.local_token.get_secret_value()]
    values += [os.environ.get(name, "") for name in ("AZURE_CLIENT_SECRET", "AZURE_CLIENT_CERTIFICATE_PASSWORD")]
    return [v for v in values if v]


def logging_config(settings: LogSettings, *, process: str, secrets: list[str] | None = None) -> dict[str, Any]:
    """A ``logging.config.dictConfig`` document: one stderr handler, every line through context and redaction."""
    formatter: dict[str, Any]
    if settings.format == "json":
        formatter = {"()": "app.logs.formatting.JsonLines", "process": process}
    else:
        formatter = {"format": TEXT_FORMAT}
    quiet = settings.level if settings.level == "DEBUG" else _at_least_warning(settings.level)
    handler = {"class": "logging.StreamHandler", "formatter": "line", "filters": ["redact", "context"]}
    loggers: dict[str, Any] = {
        name: {"handlers": ["default"], "level": settings.level, "propagate": False} for name in UVICORN_LOGGERS
    }
    loggers.update({name: {"level": settings.azure_level} for name in AZURE_LOGGERS})
    loggers.update({name: {"level": quiet} for name in PER_TASK_LOGGERS})
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "filters": {
            "redact": {"()": "app.logs.redaction.RedactSecrets", "literals": list(secrets or [])},
            "context": {"()": "app.logs.formatting.WithContext"},
        },
        "formatters": {"line": formatter},
        "handlers": {"default": handler},
        "root": {"handlers": ["default"], "level": settings.level},
        "loggers": loggers,
    }


def configure(settings: Settings, *, process: str) -> None:
    """Install the process's logging from ``settings.log``."""
    logging.config.dictConfig(logging_config(settings.log, process=process, secrets=secrets_of(settings)))
    logging.captureWarnings(True)  # Python warnings become lines of the same schema, not raw stderr text


def _at_least_warning(level: str) -> str:
    return level if logging.getLevelName(level) >= logging.WARNING else "WARNING"
