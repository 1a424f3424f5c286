"""Emulator fixtures: the emulator as a real subprocess (demo scenario, slow clock the tests drive with
``/_emulator/advance``), its admin API reset before each test, and the real SDK client."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import httpx
import pytest
from azure.mgmt.recoveryservicessiterecovery import SiteRecoveryManagementClient

from tests.emulator.support import Demo, demo_ids, sdk_client
from tests.emulator_process import running_emulator


@pytest.fixture(scope="session")
def emu_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """``python -m emulator`` on a free port: demo scenario, seed 1, one simulated second per second."""
    with running_emulator(tmp_path_factory.mktemp("emulator"), seed=1, time_scale=1) as url:
        yield url


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
