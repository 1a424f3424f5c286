"""The whole service as separate processes, the way ``reprotect dev`` runs it, for end-to-end tests: embedded
(SQLite, in-process broker) or on the configured Postgres and Redis (skipped, or failed in CI, without them)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

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
