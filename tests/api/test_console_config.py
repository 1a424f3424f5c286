"""``GET /console/config.json``: public, no secret in it, and the console's policy lets the page reach an
Entra ID authority only when sign-in there is configured."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from app.api.app import create_app
from app.auth.authenticator import Authenticator
from app.settings import EntraConfig

TENANT = "11111111-2222-3333-4444-555555555555"
SIGN_IN = {"console_client_id": "console-spa", "console_scope": "api://reprotect/.default"}


def _client(container, entra: EntraConfig) -> TestClient:
    auth = container.settings.auth.model_copy(update={"entra": entra})
    container.settings = container.settings.model_copy(update={"auth": auth})
    container.auth = Authenticator(auth, container.sessions)
    return TestClient(create_app(container))


@pytest.fixture
def configured(container) -> Iterator[TestClient]:
    entra = EntraConfig(tenant_id=TENANT, audiences=["api://reprotect"], **SIGN_IN)
    with _client(container, entra) as client:
        yield client


@pytest.fixture
def unconfigured(container) -> Iterator[TestClient]:
    with _client(container, EntraConfig(tenant_id=TENANT, audiences=["api://reprotect"])) as client:
        yield client


def _connect_src(answer) -> list[str]:
    policy = dict(part.strip().split(" ", 1) for part in answer.headers["content-security-policy"].split(";"))
    return policy["connect-src"].split()


def test_the_sign_in_configuration_is_public_and_names_only_public_identifiers(configured):
    answer = configured.get("/console/config.json")  # no Authorization header
    assert answer.status_code == 200
    assert answer.headers["content-type"] == "application/json"
    assert answer.headers["cache-control"] == "no-cache"
    assert answer.json() == {
        "entra": {
            "client_id": "console-spa",
            "authority": f"https://login.microsoftonline.com/{TENANT}",
            "scope": "api://reprotect/.default",
            "redirect_path": "/console/",
        }
    }
    for secret in ("secret", "password", "key", "token"):
        assert secret not in answer.text.lower()
    assert "set-cookie" not in answer.headers


def test_the_console_may_connect_to_the_authority_only_when_sign_in_there_is_configured(configured, unconfigured):
    for path in ("/console/", "/console/config.json", "/console/js/entra.js", "/console/nothing"):
        assert _connect_src(configured.get(path)) == ["'self'", "https://login.microsoftonline.com"], path
        assert _connect_src(unconfigured.get(path)) == ["'self'"], path
    policy = configured.get("/console/").headers["content-security-policy"]
    for strict in ("default-src 'self'", "script-src 'self'", "form-action 'none'", "frame-ancestors 'none'"):
        assert strict in policy
    assert "unsafe" not in policy


def test_without_sign_in_settings_the_configuration_says_api_keys_only(unconfigured):
    answer = unconfigured.get("/console/config.json")
    assert answer.status_code == 200
    assert answer.json() == {"entra": None}
