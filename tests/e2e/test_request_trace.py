"""JSON logs of the real processes: one request id followed from the API through the Celery worker into the
job history, one line per transition and per failure, one schema everywhere, and no secret on any line."""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from app.logs.formatting import SCHEMA
from cli.stack import Stack
from tests.receiver import running_receiver
from tests.stacks import BACKENDS, stack_on, wait_request_completed

pytestmark = pytest.mark.e2e
SECRET_SHAPES = [
    re.compile(r"rpk_[0-9a-f]{8}_[A-Za-z0-9_-]{43}"),  # our API keys
    re.compile(r"whsec_[A-Za-z0-9+/=]{20,}"),  # webhook signing secrets
    re.compile(r"(?i)bearer\s+(?!\[redacted\])\S{8,}"),  # any bearer credential
    re.compile(r"local-dev-token"),  # the emulator's Azure token
]


@pytest.fixture(params=BACKENDS)
def stack(request, tmp_path) -> Iterator[Stack]:
    """The stack as `reprotect dev` runs it (embedded, or on Postgres + Redis), but with JSON lines."""
    extra = {
        "REPROTECT_LOG__FORMAT": "json",
        "REPROTECT_JOB__POLL_INTERVAL_SECONDS": "0.5",
        "REPROTECT_WEBHOOK__ALLOW_HTTP": "true",
        "REPROTECT_WEBHOOK__ALLOWED_NETWORKS": '["127.0.0.0/8"]',
    }
    with stack_on(request.param, tmp_path, extra) as running:
        yield running


# Celery prints this one notice straight to stdout from its signal handler, past any logging configuration.
CELERY_SHUTDOWN_NOTICE = re.compile(r"^worker: (Warm|Cold) shutdown \(MainProcess\)$")


def _lines(path: Path) -> list[dict]:
    parsed = []
    for line in path.read_text().splitlines():
        if line.strip() and not CELERY_SHUTDOWN_NOTICE.match(line):
            try:
                parsed.append(json.loads(line))
            except ValueError:
                raise AssertionError(f"{path.name}: not a JSON line: {line!r}") from None
    return parsed


def test_one_request_id_runs_from_the_api_through_the_worker_into_the_history(stack):
    scenario = httpx.get(f"{stack.emulator_url}/_emulator/scenario").json()
    vault = scenario["subscriptions"][0]["vaults"][0]
    ok, failing = [
        i
        for i in vault["items"]
        if i["protection_state"] == "UnplannedFailoverCommitted" and i["source_vm"] == "present"
    ][:2]
    httpx.post(
        f"{stack.emulator_url}/_emulator/faults/job-failure",
        json={"vm": failing["name"], "task": "ProtectReplicaTask", "code": "151195", "times": 1},
    ).raise_for_status()
    trace = f"trace-{uuid.uuid4().hex}"
    with running_receiver() as receiver:
        accepted = httpx.post(
            f"{stack.api_url}/reprotect",
            json={"vms": [{"item_id": ok["id"]}, {"item_id": failing["id"]}], "callback_url": receiver.url},
            headers={**stack.auth_headers, "x-request-id": trace},
            timeout=60,
        )
        assert accepted.status_code == 202, accepted.text
        assert accepted.headers["x-request-id"] == trace
        summary = wait_request_completed(stack, accepted.json()["request_id"])
    assert summary["counts"]["protected"] == 1
    assert summary["counts"]["failed"] == 1
    jobs = {j["vm"]: j["id"] for j in accepted.json()["jobs"]}

    # The history: every entry of both jobs, the worker's included, names the request that started them.
    for job_id in jobs.values():
        history = httpx.get(f"{stack.api_url}/jobs/{job_id}", headers=stack.auth_headers).json()["history"]
        assert len(history) > 3
        assert {entry["request_id"] for entry in history} == {trace}
    stack.stop()  # every line written

    logs = {name: _lines(stack.config.var_dir / f"{name}.log") for name in ("api", "worker", "scheduler")}
    for name, lines in logs.items():
        assert lines, name
        assert all(list(line) == list(SCHEMA) for line in lines), name  # one schema, every process
    assert any(line["request_id"] == trace and "/reprotect" in line["message"] for line in logs["api"])
    traced = [line for line in logs["worker"] if line["request_id"] == trace]
    # One line per transition of each job, named by job, VM and vault, from the worker.
    for vm, job_id in jobs.items():
        moves = [line for line in traced if line["job_id"] == job_id and line["logger"] == "reprotect.job"]
        assert {"validating", "submitting", "reprotecting"} <= {line["state"] for line in moves}, (vm, traced)
        assert all(line["vm"] == vm and line["vault"] == vault["id"] for line in moves)
    ended = {line["job_id"]: line for line in traced if line["level"] == "WARNING" and "failed" in line["message"]}
    assert jobs[failing["name"]] in ended, traced
    assert "151195" in ended[jobs[failing["name"]]]["message"]
    assert jobs[ok["name"]] not in ended
    assert any(line["job_id"] == jobs[ok["name"]] and line["state"] == "protected" for line in traced)
    # Celery's per-task lines ("Task ... succeeded in ...: 'failed'") are not the trace any more.
    assert not any("succeeded in" in line["message"] for line in logs["worker"])

    secrets = [stack.api_key, accepted.json()["callback_secret"]]
    for name in ("api", "worker", "scheduler", "emulator"):
        for line in (stack.config.var_dir / f"{name}.log").read_text().splitlines():
            assert not any(secret in line for secret in secrets), f"{name}: {line}"
            assert not any(shape.search(line) for shape in SECRET_SHAPES), f"{name}: {line}"
