"""Two ``reprotect worker`` processes on one host answer as two Celery nodes: each process names itself
(``reprotect-<pid>-<random>@<host>``), so neither is taken for the other (``DuplicateNodenameWarning``,
mingled control replies, one node's revokes and stats hidden behind the other's)."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time

from celery import Celery

from tests.conftest import ROOT


def _worker(broker: str, database: str) -> subprocess.Popen[bytes]:
    env = {**os.environ, "REPROTECT_ENV": "dev", "REPROTECT_BROKER__URL": broker, "REPROTECT_DATABASE__URL": database}
    return subprocess.Popen(
        [sys.executable, "-m", "cli", "worker", "--concurrency", "1"],
        cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True,
    )  # fmt: skip


def test_two_workers_on_one_host_get_their_own_node_names(redis_url, tmp_path):
    database = f"sqlite:///{tmp_path}/jobs.sqlite3"
    workers = [_worker(redis_url, database), _worker(redis_url, database)]
    control = Celery(broker=redis_url)
    try:
        names: set[str] = set()
        deadline = time.monotonic() + 90
        while len(names) < 2:
            assert all(w.poll() is None for w in workers), "a worker exited"
            assert time.monotonic() < deadline, f"two workers never answered a ping (answered: {names})"
            names |= {name for reply in control.control.ping(timeout=1.0) or [] for name in reply}
        assert len(names) == 2, names
        host = socket.gethostname()
        for name in names:
            assert name.startswith("reprotect-"), name
            assert name.endswith(f"@{host}"), name
    finally:
        for worker in workers:
            os.killpg(worker.pid, signal.SIGTERM)
        for worker in workers:
            try:
                worker.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(worker.pid, signal.SIGKILL)
                worker.wait()
        control.close()
