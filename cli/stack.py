"""Runs the embedded stack (emulator, API, worker, scheduler) as child processes and stops them all."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from app.metrics.registry import fresh_multiprocess_dir
from cli.problems import CliError


def free_port() -> int:
    """A TCP port on loopback that nothing listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


class PortInUse(CliError):
    """The port asked for is taken: starting there would report someone else's server as ours."""

    code = "port_in_use"


def refuse_busy_port(port: int, host: str = "127.0.0.1") -> None:
    """Raise :class:`PortInUse` unless ``host:port`` can be bound now (as uvicorn binds it: SO_REUSEADDR,
    so a port left in TIME_WAIT by our own last run is not mistaken for a busy one)."""
    with socket.socket() as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError as exc:
            raise PortInUse(
                f"port {port} on {host} is already in use ({exc.strerror}); stop what listens there "
                f"or pick another port: reprotect dev --port N (make dev PORT=N)"
            ) from None


@dataclass
class StackConfig:
    """Where the embedded stack keeps its files and listens."""

    var_dir: Path = Path("var")
    api_port: int = 8000
    emulator_port: int = 0
    scenario: str = "demo"
    time_scale: float | None = None
    seed: int = 1
    worker_concurrency: int = 8
    # Scale-out runs (tests/faults/test_scale_out.py): more API processes (each on its own port), workers and
    # schedulers, all on the same database and broker.
    api_processes: int = 1
    worker_processes: int = 1
    schedulers: int = 1
    quiet: bool = False
    extra_env: dict[str, str] = field(default_factory=dict)

    def env(self, emulator_url: str) -> dict[str, str]:
        """Environment for every child: SQLite job database and broker in ``var_dir``, the emulator, fast polling."""
        var = self.var_dir.resolve()
        env = dict(os.environ)
        env.update(
            {
                "REPROTECT_DATABASE__URL": f"sqlite:///{var}/reprotect.sqlite3",
                "REPROTECT_BROKER__URL": f"sqla+sqlite:///{var}/broker.sqlite3",
                "REPROTECT_BROKER__BEAT_SCHEDULE_PATH": str(var / "celerybeat-schedule"),
                "REPROTECT_BROKER__SWEEP_INTERVAL_SECONDS": "1",
                "REPROTECT_AZURE__MODE": "emulator",
                "REPROTECT_AZURE__ENDPOINT": emulator_url,
                "REPROTECT_AZURE__CACHE_TTL_SECONDS": "5",
                "REPROTECT_JOB__POLL_INTERVAL_SECONDS": "1",
                # The emulator's scaled clock ends jobs long before their real-time ETA: poll at least every 5 s.
                "REPROTECT_JOB__MAX_POLL_INTERVAL_SECONDS": "5",
                "REPROTECT_AZURE__SNAPSHOT_TTL_SECONDS": "2",
                "REPROTECT_JOB__REDISPATCH_AFTER_SECONDS": "10",
                "REPROTECT_JOB__LEASE_SECONDS": "30",
                # The local emulator answers at once: a lost switch protection is presumed so sooner.
                "REPROTECT_AZURE__REQUEST_TIMEOUT_SECONDS": "10",
                "REPROTECT_JOB__SWITCH_SETTLE_SECONDS": "20",
                # Every child writes its metrics here and the API's /metrics sums them (app.metrics.registry).
                "PROMETHEUS_MULTIPROC_DIR": str(var / "prometheus"),
                "REPROTECT_HEALTH__BEAT_DIR": str(var),  # each stack's processes beat in their own files
            }
        )
        env.setdefault("REPROTECT_LOG__FORMAT", "text")  # people read `dev` and `demo` logs: text unless asked
        env.setdefault("REPROTECT_ENV", "dev")  # not production: SQLite, the emulator, the local key file
        env.setdefault("REPROTECT_SECRETS__LOCAL_KEY_PATH", str(var / "local-secrets.key"))  # every child's key
        env.update(self.extra_env)
        return env


class Stack:
    """The running children; use :func:`running_stack` to start and always stop them."""

    def __init__(self, config: StackConfig):
        self.config = config
        self.emulator_port = config.emulator_port or free_port()
        self.emulator_url = f"http://127.0.0.1:{self.emulator_port}"
        self.api_url = f"http://127.0.0.1:{config.api_port}"
        self.api_urls = [self.api_url] + [f"http://127.0.0.1:{free_port()}" for _ in range(config.api_processes - 1)]
        self.children: list[tuple[str, subprocess.Popen[bytes]]] = []
        self.commands: dict[str, tuple[str, ...]] = {}  # each child's `cli` arguments, to start it again
        self.api_key = ""

    @property
    def auth_headers(self) -> dict[str, str]:
        """The header carrying this stack's local admin key."""
        return {"Authorization": f"Bearer {self.api_key}"}

    def _spawn(self, name: str, *args: str) -> None:
        self.commands[name] = args
        env = self.config.env(self.emulator_url)
        if name.startswith("scheduler-"):  # each beat keeps its own schedule file (a shelve is not shared)
            env["REPROTECT_BROKER__BEAT_SCHEDULE_PATH"] += name.removeprefix("scheduler")
        with open(self.config.var_dir / f"{name}.log", "ab") as log:  # the child keeps its own copy
            out = log if self.config.quiet else None
            child = subprocess.Popen(  # noqa: S603 - our own interpreter and module
                [sys.executable, "-m", "cli", *args],
                env=env,
                stdout=out,
                stderr=out,
                start_new_session=True,  # Ctrl-C reaches us; we stop children in order
            )
        self.children.append((name, child))

    def start(self) -> None:
        """Start the emulator, migrate, then API, worker and scheduler; wait until they answer."""
        self.config.var_dir.mkdir(parents=True, exist_ok=True)
        fresh_multiprocess_dir(Path(self.config.env(self.emulator_url)["PROMETHEUS_MULTIPROC_DIR"]))
        emulator_args = ["emulator", "--port", str(self.emulator_port), "--scenario", self.config.scenario]
        emulator_args += ["--seed", str(self.config.seed)]
        if self.config.time_scale:
            emulator_args += ["--time-scale", str(self.config.time_scale)]
        self._spawn("emulator", *emulator_args)
        wait_for(f"{self.emulator_url}/_emulator/scenario", what="emulator")
        self._watch_scenario_vaults()
        subprocess.run([sys.executable, "-m", "cli", "migrate"], env=self.config.env(self.emulator_url), check=True)
        self.api_key = self._local_key()
        for n, url in enumerate(self.api_urls, start=1):
            self._spawn(_numbered("api", n), "api", "--port", url.rsplit(":", 1)[1])
        for n in range(1, self.config.worker_processes + 1):
            self._spawn(_numbered("worker", n), "worker", "--concurrency", str(self.config.worker_concurrency))
        for n in range(1, self.config.schedulers + 1):
            self._spawn(_numbered("scheduler", n), "scheduler")
        for url in self.api_urls:
            wait_for(f"{url}/readyz", what="API")

    def _watch_scenario_vaults(self) -> None:
        """The inventory (``GET /vms``) discovers the vaults of the scenario's subscriptions, unless told others."""
        key = "REPROTECT_FLEET__DISCOVER_IN_SUBSCRIPTIONS"
        if key in os.environ or key in self.config.extra_env:
            return
        scenario = httpx.get(f"{self.emulator_url}/_emulator/scenario", timeout=10).json()
        self.config.extra_env[key] = json.dumps([sub["id"] for sub in scenario.get("subscriptions", [])])

    def kill(self, name: str) -> None:
        """SIGKILL the named child's whole process group, as a crash would, and forget it."""
        for entry in [c for c in self.children if c[0] == name]:
            with suppress(ProcessLookupError):
                os.killpg(entry[1].pid, signal.SIGKILL)
            entry[1].wait()
            self.children.remove(entry)

    def respawn(self, name: str) -> None:
        """Start the named child again with its first arguments (as a supervisor would after a crash)."""
        self._spawn(name, *self.commands[name])

    def _local_key(self) -> str:
        # The embedded default stays secure: no "auth off", a local admin key made for this run.
        made = subprocess.run(
            [sys.executable, "-m", "cli", "keys", "create", "--name", "local-dev", "--role", "admin",
             "--scope", "*", "--plain"],
            env=self.config.env(self.emulator_url), check=True, capture_output=True, text=True,
        )  # fmt: skip
        return made.stdout.strip()

    def check_alive(self) -> None:
        """Raise if a child died."""
        for name, child in self.children:
            if child.poll() is not None:
                raise RuntimeError(f"the {name} process exited with code {child.returncode}")

    def stop(self) -> None:
        """Stop every child: SIGTERM, then SIGKILL after a grace period."""
        for _, child in reversed(self.children):
            if child.poll() is None:
                with suppress(ProcessLookupError):
                    os.killpg(child.pid, signal.SIGTERM)
        deadline = time.monotonic() + 10
        for _, child in self.children:
            try:
                child.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                with suppress(ProcessLookupError):
                    os.killpg(child.pid, signal.SIGKILL)
                child.wait()
        self.children.clear()


def _numbered(name: str, n: int) -> str:
    """The first process of a kind keeps its plain name (``api``, ``worker``); the others are ``worker-2``..."""
    return name if n == 1 else f"{name}-{n}"


def wait_for(url: str, *, what: str, timeout: float = 60.0) -> None:
    """Poll ``url`` until it answers 200."""
    deadline = time.monotonic() + timeout
    last = ""
    while time.monotonic() < deadline:
        try:
            if httpx.get(url, timeout=2).status_code == 200:
                return
            last = "not ready"
        except httpx.HTTPError as exc:
            last = str(exc)
        time.sleep(0.2)
    raise RuntimeError(f"the {what} did not become ready at {url}: {last}")


@contextmanager
def running_stack(config: StackConfig) -> Iterator[Stack]:
    """Start the stack, yield it, and stop every child however the block ends."""
    stack = Stack(config)
    # A SIGTERM (from a supervisor or `timeout`) must also stop the children, not orphan them.
    previous = signal.signal(signal.SIGTERM, _raise_interrupt)
    try:
        stack.start()
        yield stack
    finally:
        stack.stop()
        signal.signal(signal.SIGTERM, previous)


def _raise_interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt
