"""API fixtures: the real app on the test container, over an in-process HTTP client."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient

from app.api.app import create_app
from app.auth import key_store
from app.auth.principal import Role
from app.db import transaction, utcnow


def make_key(container, *, role: str = "admin", scopes: tuple[str, ...] = ("*",), name: str = "tests") -> str:
    """A real API key in the test database; returns its plaintext."""
    with transaction(container.sessions) as session:
        return key_store.create(
            session, name=name, role=Role(role), scopes=list(scopes), created_by="tests", now=utcnow()
        ).plaintext


@pytest.fixture
def api(container) -> Iterator[TestClient]:
    """The API, wired to the test database and the emulator, called with an unrestricted admin key."""
    headers = {"Authorization": f"Bearer {make_key(container)}"}
    with TestClient(create_app(container), headers=headers) as client:
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
    subscription = vault["id"].split("/resourceGroups/")[0]
    return {
        "vault_id": vault["id"],
        # East Asia's isolated network: where the VMs run once home, so where a campaign's drills run.
        "test_network": f"{subscription}/resourceGroups/contoso-net-rg/providers/Microsoft.Network/"
        "virtualNetworks/contoso-vnet-ea-test",
        "items": items,
        "committed": committed,
        "not_committed": next(
            i for i in items if i["protection_state"] not in ("UnplannedFailoverCommitted", "Protected")
        ),
        "moved": next(i for i in items if i["source_vm"].startswith("moved")),
        "deleted": next(i for i in items if i["source_vm"] == "deleted"),
        "protected": next(i for i in items if i["protection_state"] == "Protected"),
    }


@pytest.fixture
def bare_with(container) -> Iterator[TestClient]:
    """The API with no default credentials: each call brings its own."""
    with TestClient(create_app(container)) as client:
        yield client
