"""The emulator as its own process on a free loopback port, for fixtures of any test folder."""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx

from cli.stack import free_port

ROOT = Path(__file__).resolve().parent.parent


@contextmanager
def running_emulator(log_dir: Path, *, seed: int, time_scale: float, scenario: str = "demo") -> Iterator[str]:
    """Start ``python -m emulator``, wait until it answers, yield its URL, and stop it afterwards."""
    port = free_port()
    with (log_dir / "emulator.log").open("wb") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "emulator", "--port", str(port), "--scenario", scenario,
             "--seed", str(seed), "--time-scale", str(time_scale)],
            stdout=out, stderr=out, cwd=ROOT,
        )  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    try:
        _wait_until_up(url, process)
        yield url
    finally:
        process.terminate()
        process.wait(timeout=10)


def _wait_until_up(url: str, process: subprocess.Popen[bytes], timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"the emulator exited with {process.returncode}")
        try:
            if httpx.get(f"{url}/_emulator/health", timeout=1).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.1)
    raise RuntimeError("the emulator did not start in time")
