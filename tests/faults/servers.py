"""The servers the fault suite restarts: a private ``redis-server`` of its own, and the machine's Postgres."""

from __future__ import annotations

import shutil
import signal
import subprocess
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import event
from sqlalchemy.exc import DisconnectionError
from sqlalchemy.pool import Pool

from cli.stack import free_port

POSTGRES_CONF = Path("/etc/postgresql")


class PrivateRedis:
    """A ``redis-server`` on a free loopback port, without persistence, that only this suite uses."""

    def __init__(self, workdir: Path):
        self.workdir = workdir
        self.port = free_port()
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        """Start the server and wait until it answers PING."""
        args = ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"]
        with open(self.workdir / "redis.log", "ab") as log:
            self.process = subprocess.Popen([*args, "--dir", str(self.workdir)], stdout=log, stderr=log)
        _wait_until(self.ping, what=f"redis-server on port {self.port}")

    def ping(self) -> bool:
        """Whether the server answers."""
        done = subprocess.run(
            ["redis-cli", "-p", str(self.port), "ping"], capture_output=True, text=True, timeout=5, check=False
        )
        return done.stdout.strip() == "PONG"

    def flush(self) -> None:
        """Forget every key (what an earlier trial left queued)."""
        subprocess.run(["redis-cli", "-p", str(self.port), "flushall"], capture_output=True, timeout=10, check=True)

    def stop(self, sig: signal.Signals = signal.SIGTERM) -> None:
        """Stop the server (SIGKILL to crash it); every queued message is lost (no persistence)."""
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(sig)
            self.process.wait(timeout=10)
        self.process = None

    def restart(self, *, down_for: float = 0.0) -> None:
        """Crash the server, stay down for ``down_for`` seconds, start it again on the same port."""
        self.stop(signal.SIGKILL)
        time.sleep(down_for)
        self.start()


@contextmanager
def private_redis(workdir: Path) -> Iterator[PrivateRedis]:
    """A private Redis for the duration of the block."""
    if shutil.which("redis-server") is None or shutil.which("redis-cli") is None:
        raise RuntimeError("redis-server and redis-cli are needed for the fault suite")
    server = PrivateRedis(workdir)
    server.start()
    try:
        yield server
    finally:
        server.stop()


def postgres_ready() -> bool:
    """Whether the local Postgres accepts connections."""
    done = subprocess.run(["pg_isready", "-h", "127.0.0.1", "-q"], capture_output=True, timeout=10, check=False)
    return done.returncode == 0


def restart_postgres() -> float:
    """Restart the machine's Postgres cluster and wait until it is ready; returns the seconds it took."""
    versions = sorted(p.name for p in POSTGRES_CONF.iterdir()) if POSTGRES_CONF.is_dir() else []
    if not versions or shutil.which("pg_ctlcluster") is None:
        raise RuntimeError("no local Postgres cluster to restart (pg_ctlcluster, /etc/postgresql)")
    started = time.monotonic()
    subprocess.run(
        ["pg_ctlcluster", "--skip-systemctl-redirect", versions[-1], "main", "restart"],
        check=True,
        capture_output=True,
        timeout=60,
    )
    _wait_until(postgres_ready, what="Postgres after its restart")
    _ping_pooled_connections()
    return time.monotonic() - started


def _ping_pooled_connections() -> None:
    """From now on, every pool of this test process tests a connection before handing it out.

    The restart killed every pooled connection, also those of engines the suite does not own and that
    were built without ``pool_pre_ping``: without this, their next statement would fail once.
    """
    if not event.contains(Pool, "checkout", _ping):
        event.listen(Pool, "checkout", _ping)


def _ping(dbapi_connection: Any, _record: object, _proxy: object) -> None:
    try:
        cursor = dbapi_connection.cursor()
        cursor.execute("SELECT 1")
        cursor.close()
    except Exception as exc:  # a dead connection: the pool replaces it and retries the checkout
        raise DisconnectionError(str(exc)) from exc


def _wait_until(ready: Callable[[], bool], *, what: str, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if ready():
            return
        time.sleep(0.1)
    raise RuntimeError(f"{what} did not come up within {timeout:.0f}s")
