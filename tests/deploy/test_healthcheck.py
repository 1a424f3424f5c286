"""``python -m cli.healthcheck``: the container health check of each process, against real HTTP servers and a
real schedule file."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from app.health.heartbeat import Heartbeat
from cli.healthcheck import Unhealthy, check_http, process_of
from tests.deploy.locks import ROOT

UNREACHABLE_DATABASE = "postgresql+psycopg://nobody@127.0.0.1:9/nothing"  # nothing listens on port 9


@pytest.mark.parametrize(
    ("cmdline", "expected"),
    [
        (["python", "-m", "cli", "api", "--host", "0.0.0.0", "--port", "8000"], ("api", 8000)),
        (["/opt/venv/bin/reprotect", "api", "--port=8001"], ("api", 8001)),
        (["python", "-m", "cli", "worker", "--concurrency", "16"], ("worker", None)),
        (["python", "-m", "cli", "scheduler"], ("scheduler", None)),
        (["python", "-m", "emulator", "--host", "0.0.0.0", "--port", "8900"], ("emulator", 8900)),
    ],
)
def test_the_process_is_read_from_its_command_line(cmdline: list[str], expected: tuple[str, int | None]) -> None:
    assert process_of(cmdline) == expected


def test_an_unknown_process_is_unhealthy() -> None:
    with pytest.raises(Unhealthy, match="cannot tell"):
        process_of(["python", "-m", "cli", "migrate"])


@pytest.fixture
def server() -> Iterator[tuple[int, dict[str, int]]]:
    """A real HTTP server on a free port; ``statuses[path]`` is what it answers (404 otherwise)."""
    statuses: dict[str, int] = {}

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(statuses.get(self.path, 404))
            self.end_headers()

        def log_message(self, *_args: object) -> None:
            pass

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield httpd.server_address[1], statuses
    httpd.shutdown()
    httpd.server_close()


def test_the_api_is_healthy_when_healthz_answers(server: tuple[int, dict[str, int]]) -> None:
    port, statuses = server
    statuses["/healthz"] = 200
    check_http("api", port)


def test_the_api_is_unhealthy_when_healthz_fails(server: tuple[int, dict[str, int]]) -> None:
    port, statuses = server
    statuses["/healthz"] = 500
    with pytest.raises(Unhealthy, match="500"):
        check_http("api", port)


def test_the_emulator_is_checked_on_its_own_route(server: tuple[int, dict[str, int]]) -> None:
    port, statuses = server
    statuses["/_emulator/health"] = 200
    check_http("emulator", port)
    with pytest.raises(Unhealthy):
        check_http("api", port)


def test_nothing_listening_is_unhealthy(server: tuple[int, dict[str, int]]) -> None:
    port, _ = server
    with pytest.raises(Unhealthy, match="refused"):
        check_http("api", port + 1 if port < 65535 else port - 1)


def test_the_command_exits_1_with_one_line(tmp_path: Path) -> None:
    env = {**os.environ, "REPROTECT_HEALTH__BEAT_DIR": str(tmp_path)}
    done = _check("scheduler", env)
    assert done.returncode == 1
    assert done.stderr.startswith("unhealthy: no scheduler beats here")
    assert len(done.stderr.splitlines()) == 1


def test_the_newest_beat_in_the_container_counts_and_the_database_does_not(tmp_path: Path) -> None:
    """Liveness is the processes' own beat: a database outage (shown by /status and /readyz) must not get every
    worker and scheduler restarted, which would not end it."""
    env = {
        **os.environ,
        "REPROTECT_HEALTH__BEAT_DIR": str(tmp_path),
        "REPROTECT_DATABASE__URL": UNREACHABLE_DATABASE,
        "REPROTECT_HEALTH__STALE_AFTER_SECONDS": "35",
    }
    gone = tmp_path / "reprotect-worker-11.beat"  # a worker killed outright a minute ago
    gone.touch()
    os.utime(gone, (time.time() - 60, time.time() - 60))
    stale = _check("worker", env)
    assert stale.returncode == 1
    assert "the worker last beat 60 s ago" in stale.stderr

    (tmp_path / "reprotect-worker-12.beat").touch()  # its replacement beats
    assert _check("worker", env).returncode == 0
    assert _check("scheduler", env).returncode == 1  # each kind beats in its own files


def _check(process: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "cli.healthcheck", process], cwd=ROOT, env=env, capture_output=True, text=True
    )


def _worker_check(env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return _check("worker", env)


@pytest.mark.redis
def test_a_running_worker_answers_the_worker_check(redis_url: str, tmp_path: Path) -> None:
    """A real Celery worker on the real Redis broker: healthy once it beats, unhealthy once it is gone."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("REPROTECT_")}
    database = f"sqlite:///{tmp_path}/db.sqlite3"
    env |= {"REPROTECT_BROKER__URL": redis_url, "REPROTECT_DATABASE__URL": database, "REPROTECT_ENV": "dev"}
    env["REPROTECT_HEALTH__BEAT_DIR"] = str(tmp_path)  # not the shared temporary directory other tests' workers use
    subprocess.run([sys.executable, "-m", "cli", "migrate"], cwd=ROOT, env=env, check=True, capture_output=True)
    assert _worker_check(env).returncode == 1
    worker = subprocess.Popen(
        [sys.executable, "-m", "cli", "worker", "--no-supervise", "--concurrency", "1", "--loglevel", "WARNING"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 60
        while (done := _worker_check(env)).returncode != 0 and time.monotonic() < deadline:
            time.sleep(1)
        assert done.returncode == 0, done.stderr
    finally:
        worker.terminate()
        worker.wait(timeout=30)
    assert _worker_check(env).returncode == 1


def test_the_heartbeat_touches_its_file_while_the_database_hangs_and_removes_it_on_a_clean_stop(tmp_path: Path) -> None:
    silent = socket.create_server(("127.0.0.1", 0))  # takes connections (the kernel's backlog), never answers
    url = f"postgresql+psycopg://nobody@127.0.0.1:{silent.getsockname()[1]}/nothing"
    beat = tmp_path / "reprotect-worker-1.beat"
    heartbeat = Heartbeat(url, kind="worker", interval_seconds=0.05, beat_file=beat)
    starting = threading.Thread(target=heartbeat.start, daemon=True)
    starting.start()
    try:
        deadline = time.monotonic() + 10
        while not beat.exists() and time.monotonic() < deadline:
            time.sleep(0.02)
        first = beat.stat().st_mtime_ns
        while beat.stat().st_mtime_ns == first and time.monotonic() < deadline:
            time.sleep(0.02)
        assert beat.stat().st_mtime_ns > first  # beats on
        assert starting.is_alive()  # while the heartbeat still waits for the database's first answer
    finally:
        silent.close()  # the waiting connection drops: the heartbeat gives up on the row and goes on
        starting.join(timeout=30)
        heartbeat.stop()
    assert not beat.exists()
