"""The whole service as separate processes, the way ``reprotect dev`` runs it, for end-to-end tests: embedded
(SQLite, in-process broker) or on the configured Postgres and Redis (skipped, or failed in CI, without them)."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx

from cli.stack import Stack, StackConfig, free_port, running_stack
from tests.conftest import POSTGRES_URL, REDIS_URL, _unavailable, fresh_postgres_database

BACKENDS = ["embedded", "postgres-redis"]


@contextmanager
def stack_on(backend: str, var_dir: Path, extra_env: dict[str, str], *, time_scale: float = 5000) -> Iterator[Stack]:
    """A running stack on ``backend`` (one of :data:`BACKENDS`) with these extra settings; stopped afterwards."""
    extra = dict(extra_env)
    config = StackConfig(var_dir=var_dir, api_port=free_port(), time_scale=time_scale, quiet=True, extra_env=extra)
    if backend == "embedded":
        with running_stack(config) as running:
            yield running
        return
    if not (POSTGRES_URL and REDIS_URL):
        _unavailable("postgres" if not POSTGRES_URL else "redis")
    with fresh_postgres_database() as url:
        extra["REPROTECT_DATABASE__URL"] = url
        extra["REPROTECT_BROKER__URL"] = str(REDIS_URL)
        with running_stack(config) as running:
            yield running


def wait_request_completed(stack: Stack, request_id: str, timeout: float = 120) -> dict[str, Any]:
    """The request's summary once it completed; on timeout, an assertion that says where it stands and why:
    each job's state and last error, which children died, and the end of every child's log."""
    deadline = time.monotonic() + timeout
    summary: dict[str, Any] = {}
    while time.monotonic() < deadline:
        summary = httpx.get(f"{stack.api_url}/reprotect/{request_id}", headers=stack.auth_headers, timeout=30).json()
        if summary["completed"]:
            return summary
        time.sleep(0.5)
    raise AssertionError(f"not completed in {timeout}s: {summary.get('counts')}\n{stack_report(stack, request_id)}")


def stack_report(stack: Stack, request_id: str | None = None, *, log_lines: int = 40) -> str:
    """What a person debugging a stuck stack looks at first (a failed CI run keeps no temporary files)."""
    parts = []
    if request_id:
        try:
            jobs = httpx.get(
                f"{stack.api_url}/jobs", params={"request_id": request_id}, headers=stack.auth_headers, timeout=10
            ).json()
            for job in jobs.get("items", []):
                fields = {k: job.get(k) for k in ("vm", "state", "attempt", "asr_job_state", "updated_at", "error")}
                parts.append(f"job {job.get('id')}: {json.dumps(fields, default=str)}")
        except (httpx.HTTPError, ValueError) as exc:
            parts.append(f"jobs not readable: {exc}")
    for name, child in stack.children:
        parts.append(f"{name}: {'running' if child.poll() is None else f'exited with {child.returncode}'}")
    for log in sorted(stack.config.var_dir.glob("*.log")):
        tail = log.read_text(errors="replace").splitlines()[-log_lines:]
        parts.append(f"--- {log.name} (last {len(tail)} lines)\n" + "\n".join(line[:300] for line in tail))
    return "\n".join(parts)
