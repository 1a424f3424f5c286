"""Concurrent ``reprotect migrate`` runs (per-replica init containers) on Postgres take turns on an
advisory lock: both succeed, the schema is migrated once, and a run waits while another holds the lock."""

from __future__ import annotations

import ast
import os
import subprocess
import sys
import time
from pathlib import Path

from alembic.config import Config
from alembic.script import ScriptDirectory
from sqlalchemy import create_engine, text

from tests.conftest import POSTGRES_URL, ROOT, _unavailable, fresh_postgres_database


def _lock_key() -> int:
    """``MIGRATION_LOCK_KEY`` as migrations/env.py declares it (the module migrates when imported)."""
    tree = ast.parse((ROOT / "migrations" / "env.py").read_text())
    for node in tree.body:
        if isinstance(node, ast.Assign) and getattr(node.targets[0], "id", None) == "MIGRATION_LOCK_KEY":
            return int(ast.literal_eval(node.value))
    raise AssertionError("migrations/env.py declares no MIGRATION_LOCK_KEY")


def _migrate(url: str, cwd: Path) -> subprocess.Popen[str]:
    env = {**os.environ, "REPROTECT_ENV": "dev", "REPROTECT_DATABASE__URL": url}
    return subprocess.Popen(
        [sys.executable, "-m", "cli", "migrate"], cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
        text=True,
    )  # fmt: skip


def _waiting_on_advisory_locks(connection) -> int:
    query = "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted"
    return int(connection.execute(text(query)).scalar_one())


def test_two_concurrent_migrate_runs_both_succeed_and_wait_for_the_lock(tmp_path):
    if not POSTGRES_URL:
        _unavailable("postgres")
    head = ScriptDirectory.from_config(Config(str(ROOT / "alembic.ini"))).get_current_head()
    with fresh_postgres_database() as url:
        holder = create_engine(url, isolation_level="AUTOCOMMIT")
        runs: list[subprocess.Popen[str]] = []
        try:
            with holder.connect() as connection:
                connection.execute(text("SELECT pg_advisory_lock(:key)"), {"key": _lock_key()})
                runs = [_migrate(url, ROOT), _migrate(url, ROOT)]
                deadline = time.monotonic() + 60
                while _waiting_on_advisory_locks(connection) < 2:
                    assert all(run.poll() is None for run in runs), [run.communicate()[0] for run in runs]
                    assert time.monotonic() < deadline, "the migrate runs never waited for the lock"
                    time.sleep(0.1)
                # Both are blocked before reading the schema's version: nothing is migrated yet.
                assert connection.execute(text("SELECT to_regclass('alembic_version')")).scalar_one() is None
                connection.execute(text("SELECT pg_advisory_unlock(:key)"), {"key": _lock_key()})
                outputs = [run.communicate(timeout=120)[0] for run in runs]
                assert [run.returncode for run in runs] == [0, 0], outputs
                assert connection.execute(text("SELECT version_num FROM alembic_version")).scalars().all() == [head]
        finally:
            for run in runs:
                if run.poll() is None:
                    run.kill()
                    run.wait()
            holder.dispose()
