"""The log line formats and the logging configuration: one JSON schema with the request and job context,
a readable text line, secrets blanked in messages and tracebacks, noisy libraries quiet unless asked."""

from __future__ import annotations

import io
import json
import logging
import uuid
from collections.abc import Iterator

import pytest
from pydantic import ValidationError

from app.logs import context, task_context
from app.logs.formatting import SCHEMA, TEXT_FORMAT, JsonLines, WithContext
from app.logs.redaction import RedactSecrets
from app.logs.setup import logging_config
from app.settings import LogSettings, Settings

API_KEY = "rpk_0123abcd_" + "A" * 43


@pytest.fixture
def lines() -> Iterator[tuple[logging.Logger, io.StringIO, logging.Handler]]:
    """A logger writing through the same filters as a process's handler, into a buffer."""
    buffer = io.StringIO()
    handler = logging.StreamHandler(buffer)
    handler.addFilter(RedactSecrets(["configured-secret-value"]))
    handler.addFilter(WithContext())
    logger = logging.getLogger(f"tests.logs.{uuid.uuid4().hex}")
    logger.addHandler(handler)
    logger.propagate = False
    logger.setLevel(logging.INFO)
    yield logger, buffer, handler
    context.clear()


def test_a_json_line_has_the_one_schema_and_names_the_request_and_the_job(lines):
    logger, buffer, handler = lines
    handler.setFormatter(JsonLines(process="worker"))
    job_id = uuid.uuid4()
    with context.about_request("req-1"), context.about_job(job_id=job_id, vm="web-01", vault="/v", attempt=2):
        logger.info("step %s", "ran")
    logger.info("outside")
    inside, outside = (json.loads(line) for line in buffer.getvalue().splitlines())
    assert list(inside) == list(SCHEMA)
    assert inside["message"] == "step ran"
    assert inside["process"] == "worker"
    assert inside["level"] == "INFO"
    assert (inside["request_id"], inside["job_id"], inside["vm"], inside["attempt"]) == (
        "req-1",
        str(job_id),
        "web-01",
        2,
    )
    assert inside["exception"] is None
    assert outside["request_id"] is None
    assert outside["job_id"] is None


def test_secrets_are_blanked_in_the_message_and_in_the_exception_text(lines):
    logger, buffer, handler = lines
    handler.setFormatter(JsonLines(process="api"))
    try:
        raise RuntimeError(f"refused with Authorization: Bearer {API_KEY}")
    except RuntimeError:
        logger.exception("call with key %s and secret %s failed", API_KEY, "configured-secret-value")
    line = json.loads(buffer.getvalue())
    assert "RuntimeError: refused with Authorization: [redacted]" in line["exception"]
    assert line["message"] == "call with key [redacted] and secret [redacted] failed"
    assert API_KEY not in buffer.getvalue()
    assert "configured-secret-value" not in buffer.getvalue()


def test_a_text_line_shows_the_request_id_and_the_job(lines):
    logger, buffer, handler = lines
    handler.setFormatter(logging.Formatter(TEXT_FORMAT))
    with context.about_request("req-2"), context.about_job(job_id="j-1", vm="db-01", state="syncing"):
        logger.warning("slow")
    assert (
        buffer.getvalue()
        .rstrip()
        .endswith("WARNING [req-2] " + logger.name + ": [job=j-1 vm=db-01 state=syncing] slow")
    )


@pytest.mark.parametrize(
    ("text", "shown"),
    [
        (f"key {API_KEY}", "key [redacted]"),
        ("{'Authorization': 'Basic dXNlcjpwYXNzd29yZA=='}", "{'Authorization': '[redacted]'}"),
        ("callback_secret=whsec_abcdefghijklmnopqrstuvwx", "callback_secret=[redacted]"),
        ('{"client_secret": "s3cr3t-value"}', '{"client_secret": "[redacted]"}'),
        ("https://acct.blob.core.windows.net/c?sv=2024&sig=AbC%2Bdef%3D&se=1", "https://acct.blob.core.windows.net/c?sv=2024&sig=[redacted]&se=1"),
        ("job 5 failed: 151195: the design is fine", "job 5 failed: 151195: the design is fine"),
    ],
)  # fmt: skip
def test_redaction_blanks_secrets_and_leaves_ordinary_text(text, shown):
    record = logging.LogRecord("x", logging.INFO, __file__, 1, text, None, None)
    RedactSecrets().filter(record)
    assert record.getMessage() == shown


def test_the_azure_http_lines_and_celerys_per_task_lines_are_quiet_unless_asked():
    quiet = logging_config(LogSettings(), process="worker")["loggers"]
    assert quiet["azure.core.pipeline.policies.http_logging_policy"]["level"] == "WARNING"
    assert quiet["azure.identity"]["level"] == "WARNING"
    assert quiet["celery.app.trace"]["level"] == "WARNING"
    asked = logging_config(LogSettings(level="DEBUG", azure_level="INFO"), process="worker")["loggers"]
    assert asked["azure.core.pipeline.policies.http_logging_policy"]["level"] == "INFO"
    assert asked["celery.app.trace"]["level"] == "DEBUG"


def test_the_format_and_level_come_from_the_environment(monkeypatch):
    monkeypatch.setenv("REPROTECT_LOG__FORMAT", "text")
    monkeypatch.setenv("REPROTECT_LOG__LEVEL", "debug")
    settings = Settings()
    assert settings.log.format == "text"
    assert settings.log.level == "DEBUG"
    assert Settings.model_fields["log"].default_factory().format == "json"  # type: ignore[misc]
    monkeypatch.setenv("REPROTECT_LOG__FORMAT", "yaml")
    with pytest.raises(ValidationError):
        Settings()


def test_a_published_message_carries_the_request_id_and_a_task_takes_it_back():
    headers: dict[str, str] = {}
    with context.about_request("req-3"):
        task_context._stamp(headers=headers)
    assert headers == {context.TASK_HEADER: "req-3"}

    class Request:  # what Celery's task context exposes: the message's headers as attributes
        reprotect_request_id = "req-3"

    class Task:
        request = Request()

    task_context._enter(task=Task())
    assert context.current_request_id() == "req-3"
    task_context._leave()
    assert context.current_request_id() is None
