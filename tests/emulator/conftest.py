"""Emulator fixtures: the emulator as a real subprocess (demo scenario, slow clock the tests drive with
``/_emulator/advance``), its admin API reset before each test, and the real SDK client."""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest
from azure.mgmt.recoveryservicessiterecovery import SiteRecoveryManagementClient

from tests.emulator.support import Demo, demo_ids, free_port, sdk_client

ROOT = Path(__file__).resolve().parents[2]


def _wait(url: str, process: subprocess.Popen[bytes], timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"the emulator exited with {process.returncode}")
        try:
            if httpx.get(f"{url}/_emulator/health", timeout=1).status_code == 200:
                return
        except httpx.TransportError:
            time.sleep(0.1)
    raise RuntimeError("the emulator did not start in time")


@pytest.fixture(scope="session")
def emu_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """``python -m emulator`` on a free port: demo scenario, seed 1, one simulated second per second."""
    port = free_port()
    log = tmp_path_factory.mktemp("emulator") / "emulator.log"
    with log.open("wb") as out:
        process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "emulator",
                "--port",
                str(port),
                "--scenario",
                "demo",
                "--seed",
                "1",
                "--time-scale",
                "1",
            ],
            stdout=out,
            stderr=out,
            cwd=ROOT,
        )
    url = f"http://127.0.0.1:{port}"
    try:
        _wait(url, process)
        yield url
    finally:
        process.terminate()
        process.wait(timeout=10)


@pytest.fixture
def admin(emu_url: str) -> Iterator[httpx.Client]:
    """The admin API, after a reset, with throttling off (tests that need it turn it on)."""
    with httpx.Client(base_url=emu_url, timeout=10) as client:
        client.post("/_emulator/reset").raise_for_status()
        client.put("/_emulator/throttle", json={"enabled": False}).raise_for_status()
        yield client


@pytest.fixture
def demo(admin: httpx.Client) -> Demo:
    """The demo vault's ids."""
    return demo_ids(admin)


@pytest.fixture
def make_client(emu_url: str, demo: Demo) -> Iterator[Callable[..., SiteRecoveryManagementClient]]:
    """Build SDK clients for the demo subscription (closed after the test)."""
    made: list[SiteRecoveryManagementClient] = []

    def make(**kwargs: object) -> SiteRecoveryManagementClient:
        client = sdk_client(emu_url, demo.sub, **kwargs)
        made.append(client)
        return client

    yield make
    for client in made:
        client.close()


@pytest.fixture
def client(make_client: Callable[..., SiteRecoveryManagementClient]) -> SiteRecoveryManagementClient:
    """The SDK client without retries."""
    return make_client()
