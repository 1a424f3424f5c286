"""Container health checks, one per process: ``python -m cli.healthcheck api|worker|scheduler|emulator|auto``.

Exit 0 when healthy, 1 with one line on stderr when not. Used by the image's ``HEALTHCHECK`` (``auto``: the
process is read from PID 1's command line, so one image serves every service), by docker-compose and by the
Kubernetes exec probes.

- ``api``: ``GET /healthz`` on the local port.
- ``worker``: a Celery ``ping`` answered by a node of this host (``…@<hostname>``), so a worker that lost its
  broker or hangs is restarted. Interim: replace with the worker heartbeat once the service records one.
- ``scheduler``: Celery beat writes its schedule file back at least every 3 minutes while it ticks; a file older
  than ``--max-age`` seconds (default 600) means beat is stuck.
  Interim as well: the scheduler heartbeat replaces it.
"""

from __future__ import annotations

import argparse
import socket
import sys
import time
import urllib.request
from collections.abc import Callable
from pathlib import Path

PROCESSES = ("api", "worker", "scheduler", "emulator")
DEFAULT_PORTS = {"api": 8000, "emulator": 8900}
HTTP_PATHS = {"api": "/healthz", "emulator": "/_emulator/health"}
DEFAULT_BEAT_MAX_AGE_SECONDS = 600.0


class Unhealthy(Exception):
    """The process does not answer as it should; the message says how."""


def process_of(cmdline: list[str]) -> tuple[str, int | None]:
    """Which service a command line runs (``reprotect worker …``, ``python -m emulator …``) and its ``--port``."""
    process = next((arg for arg in cmdline if arg in PROCESSES), None)
    if process is None and any(arg.endswith("emulator") for arg in cmdline):
        process = "emulator"
    if process is None:
        raise Unhealthy(f"cannot tell which process this is from {' '.join(cmdline)!r}")
    return process, port_of(cmdline)


def port_of(args: list[str]) -> int | None:
    """The value of ``--port N`` or ``--port=N``, if given."""
    for index, arg in enumerate(args):
        if arg == "--port" and index + 1 < len(args):
            return int(args[index + 1])
        if arg.startswith("--port="):
            return int(arg.split("=", 1)[1])
    return None


def _pid1_cmdline() -> list[str]:
    raw = Path("/proc/1/cmdline").read_bytes()
    return [part.decode() for part in raw.split(b"\0") if part]


def check_http(process: str, port: int | None, timeout: float = 3.0) -> None:
    """The process's own health route answers 200 on the loopback address."""
    url = f"http://127.0.0.1:{port or DEFAULT_PORTS[process]}{HTTP_PATHS[process]}"
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:
            status = response.status
    except OSError as exc:
        raise Unhealthy(f"{url}: {exc}") from exc
    if status != 200:
        raise Unhealthy(f"{url}: HTTP {status}")


def check_worker(timeout: float = 5.0) -> None:
    """A Celery node on this host answers ``ping`` through the broker."""
    from workers.celery_app import celery

    host = socket.gethostname()
    replies = celery.control.inspect(timeout=timeout).ping() or {}
    if not any(node.endswith(f"@{host}") for node in replies):
        raise Unhealthy(f"no Celery worker named …@{host} answered ping (answers from {sorted(replies)})")


def check_scheduler(limit: float = DEFAULT_BEAT_MAX_AGE_SECONDS, schedule_path: str | None = None) -> None:
    """Celery beat's schedule file (any dbm suffix) was written less than ``limit`` seconds ago."""
    if schedule_path is None:
        from app.settings import get_settings

        schedule_path = get_settings().broker.beat_schedule_path
    path = Path(schedule_path)
    files = [p for p in path.parent.glob(f"{path.name}*") if p.is_file()]
    if not files:
        raise Unhealthy(f"celery beat has not written {path} yet")
    age = time.time() - max(p.stat().st_mtime for p in files)
    if age > limit:
        raise Unhealthy(f"celery beat last wrote {path} {age:.0f} s ago (limit {limit:.0f} s)")


def check(process: str, port: int | None = None, max_age: float = DEFAULT_BEAT_MAX_AGE_SECONDS) -> None:
    """Run the check that fits ``process``; ``auto`` reads it (and the port) from PID 1."""
    if process == "auto":
        process, port = process_of(_pid1_cmdline())
    checks: dict[str, Callable[[], None]] = {
        "api": lambda: check_http("api", port),
        "emulator": lambda: check_http("emulator", port),
        "worker": check_worker,
        "scheduler": lambda: check_scheduler(max_age),
    }
    if process not in checks:
        raise Unhealthy(f"unknown process {process!r}: one of {', '.join(PROCESSES)} or auto")
    checks[process]()


def main(argv: list[str] | None = None) -> int:
    """``python -m cli.healthcheck [PROCESS] [--port N] [--max-age SECONDS]``."""
    parser = argparse.ArgumentParser(prog="python -m cli.healthcheck", description=__doc__.splitlines()[0])
    parser.add_argument("process", nargs="?", default="auto", choices=[*PROCESSES, "auto"])
    parser.add_argument("--port", type=int, default=None, help="the API's or emulator's port")
    parser.add_argument("--max-age", type=float, default=DEFAULT_BEAT_MAX_AGE_SECONDS, help="scheduler: seconds")
    args = parser.parse_args(argv)
    try:
        check(args.process, args.port, args.max_age)
    except Unhealthy as exc:
        print(f"unhealthy: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
