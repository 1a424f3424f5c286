"""API fixtures: the real app on the test container, over an in-process HTTP client."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient

from app.api.app import create_app


@pytest.fixture
def api(container) -> Iterator[TestClient]:
    """The API, wired to the test database and the emulator."""
    with TestClient(create_app(container)) as client:
        yield client


@pytest.fixture
def demo(emulator) -> dict[str, Any]:
    """The demo vault as the emulator describes it: id and items by kind."""
    scenario = emulator.get("/_emulator/scenario").json()
    vault = scenario["subscriptions"][0]["vaults"][0]
    items = vault["items"]
    committed = [
        i for i in items if i["protection_state"] == "UnplannedFailoverCommitted" and i["source_vm"] == "present"
    ]
    return {
        "vault_id": vault["id"],
        "items": items,
        "committed": committed,
        "not_committed": next(
            i for i in items if i["protection_state"] not in ("UnplannedFailoverCommitted", "Protected")
        ),
        "moved": next(i for i in items if i["source_vm"].startswith("moved")),
        "deleted": next(i for i in items if i["source_vm"] == "deleted"),
        "protected": next(i for i in items if i["protection_state"] == "Protected"),
    }
