"""Container health checks, one per process: ``python -m cli.healthcheck api|worker|scheduler|emulator|auto``.

Exit 0 when healthy, 1 with one line on stderr when not. Used by the image's ``HEALTHCHECK`` (``auto``: the
process is read from PID 1's command line, so one image serves every service), by docker-compose and by the
Kubernetes exec probes.

- ``api``: ``GET /healthz`` on the local port.
- ``worker`` and ``scheduler``: a process of that kind in this container beat within
  ``health.stale_after_seconds``: the newest of the ``reprotect-<kind>-<pid>.beat`` files their heartbeats touch
  (``app.health.heartbeat``). Alive and started (a worker beats once Celery reports it ready, beat once it runs);
  a clean stop deletes its file, a hung process stops touching it. Not the database: an outage there is shown
  by ``/status`` and ``/readyz``, and restarting every worker would not end it.
"""

from __future__ import annotations

import argparse
import sys
import time
import urllib.request
from collections.abc import Callable
from contextlib import suppress
from pathlib import Path

PROCESSES = ("api", "worker", "scheduler", "emulator")
DEFAULT_PORTS = {"api": 8000, "emulator": 8900}
HTTP_PATHS = {"api": "/healthz", "emulator": "/_emulator/health"}


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


def check_heartbeat(kind: str) -> None:
    """This host's ``kind`` process (worker, scheduler) beat recently enough (``app.health.heartbeat``)."""
    from app.settings import get_settings

    health = get_settings().health
    ages = {}
    for beat_file in health.beat_files(kind):
        with suppress(FileNotFoundError):  # a process stopping at this moment
            ages[beat_file] = time.time() - beat_file.stat().st_mtime
    if not ages:
        where = health.beat_directory
        raise Unhealthy(f"no {kind} beats here: no reprotect-{kind}-*.beat in {where} (not started yet, or stopped)")
    newest = min(ages, key=lambda path: ages[path])
    if ages[newest] > health.stale_after_seconds:
        raise Unhealthy(f"the {kind} last beat {ages[newest]:.0f} s ago ({newest})")


def check(process: str, port: int | None = None) -> None:
    """Run the check that fits ``process``; ``auto`` reads it (and the port) from PID 1."""
    if process == "auto":
        process, port = process_of(_pid1_cmdline())
    checks: dict[str, Callable[[], None]] = {
        "api": lambda: check_http("api", port),
        "emulator": lambda: check_http("emulator", port),
        "worker": lambda: check_heartbeat("worker"),
        "scheduler": lambda: check_heartbeat("scheduler"),
    }
    if process not in checks:
        raise Unhealthy(f"unknown process {process!r}: one of {', '.join(PROCESSES)} or auto")
    checks[process]()


def main(argv: list[str] | None = None) -> int:
    """``python -m cli.healthcheck [PROCESS] [--port N]``."""
    parser = argparse.ArgumentParser(prog="python -m cli.healthcheck", description=__doc__.splitlines()[0])
    parser.add_argument("process", nargs="?", default="auto", choices=[*PROCESSES, "auto"])
    parser.add_argument("--port", type=int, default=None, help="the API's or emulator's port")
    args = parser.parse_args(argv)
    try:
        check(args.process, args.port)
    except Unhealthy as exc:
        print(f"unhealthy: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
