"""The console's Entra ID sign-in settings: complete or absent, https authorities only (loopback http for tests),
an authority off the public cloud only with its issuers and keys, and the origin the console's policy opens
comes from the authority."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from app.settings import EntraConfig, https_or_loopback

TENANT = "11111111-2222-3333-4444-555555555555"
API = {"tenant_id": TENANT, "audiences": ["api://reprotect"]}
SIGN_IN = {"console_client_id": "console-spa", "console_scope": "api://reprotect/.default"}
US_GOV_TOKENS = {
    "issuers": [f"https://sts.usgovcloudapi.net/{TENANT}/", f"https://login.microsoftonline.us/{TENANT}/v2.0"],
    "jwks_url": f"https://login.microsoftonline.us/{TENANT}/discovery/v2.0/keys",
}


def test_without_a_client_id_the_console_offers_no_entra_sign_in():
    assert not EntraConfig(**API).console_sign_in
    assert EntraConfig(**API, **SIGN_IN).console_sign_in


def test_the_default_authority_is_the_tenants_on_the_public_cloud():
    entra = EntraConfig(**API, **SIGN_IN)
    assert entra.effective_authority == f"https://login.microsoftonline.com/{TENANT}"
    assert entra.authority_origin == "https://login.microsoftonline.com"


def test_a_configured_authority_is_used_without_its_trailing_slash_and_opens_only_its_origin():
    entra = EntraConfig(**API, **SIGN_IN, **US_GOV_TOKENS, authority="https://login.microsoftonline.us/tenant-x/")
    assert entra.effective_authority == "https://login.microsoftonline.us/tenant-x"
    assert entra.authority_origin == "https://login.microsoftonline.us"
    local = EntraConfig(**API, **SIGN_IN, **US_GOV_TOKENS, authority="http://127.0.0.1:8123/tenant-x")
    assert local.authority_origin == "http://127.0.0.1:8123"


@pytest.mark.parametrize(
    "authority",
    [
        f"https://login.microsoftonline.us/{TENANT}",
        f"https://login.chinacloudapi.cn/{TENANT}",
        f"https://login.partner.microsoftonline.cn/{TENANT}",
        f"http://127.0.0.1:8123/{TENANT}",
    ],
)
def test_an_authority_off_the_public_cloud_needs_its_issuers_and_keys_stated(authority):
    # The defaults are the public cloud's: its tokens would be refused (wrong issuer, unknown keys).
    with pytest.raises(ValidationError, match=r"not on the public cloud.*set entra\.issuers and entra\.jwks_url"):
        EntraConfig(**API, **SIGN_IN, authority=authority)
    with pytest.raises(ValidationError, match=r"set entra\.jwks_url for its cloud"):
        EntraConfig(**API, **SIGN_IN, authority=authority, issuers=[f"{authority}/v2.0"])
    with pytest.raises(ValidationError, match=r"set entra\.issuers for its cloud"):
        EntraConfig(**API, **SIGN_IN, authority=authority, jwks_url=f"{authority}/discovery/v2.0/keys")
    stated = EntraConfig(
        **API,
        **SIGN_IN,
        authority=authority,
        issuers=[f"{authority}/v2.0"],
        jwks_url=f"{authority}/discovery/v2.0/keys",
    )
    assert (stated.effective_issuers, stated.effective_jwks_url) == (
        [f"{authority}/v2.0"],
        f"{authority}/discovery/v2.0/keys",
    )


@pytest.mark.parametrize(
    "host", ["login.microsoftonline.com", "LOGIN.MicrosoftOnline.com", "login.microsoftonline.com:443"]
)
def test_an_authority_on_the_public_cloud_keeps_the_default_issuers_and_keys(host):
    entra = EntraConfig(**API, **SIGN_IN, authority=f"https://{host}/contoso.onmicrosoft.com/")
    assert entra.effective_issuers == [
        f"https://sts.windows.net/{TENANT}/",
        f"https://login.microsoftonline.com/{TENANT}/v2.0",
    ]
    assert entra.effective_jwks_url == f"https://login.microsoftonline.com/{TENANT}/discovery/v2.0/keys"


@pytest.mark.parametrize(
    "authority",
    [
        "http://login.microsoftonline.com/t",  # plain http off loopback
        "ftp://127.0.0.1/t",
        "https:///t",
        "login.microsoftonline.com/t",
        "https://login.microsoftonline.com/t?x=1",
        "https://login.microsoftonline.com/t#x",
        "https://user@login.microsoftonline.com/t",
    ],
)
def test_the_authority_must_be_an_https_address_unless_it_is_loopback(authority):
    with pytest.raises(ValidationError, match=r"entra\.authority must be https"):
        EntraConfig(**API, **SIGN_IN, authority=authority)


@pytest.mark.parametrize("url", ["https://login.example.com/t", "http://localhost:9/t", "http://[::1]:9/t"])
def test_https_or_loopback_accepts_https_anywhere_and_http_on_loopback(url):
    assert https_or_loopback(url)


def test_sign_in_settings_are_complete_or_refused():
    with pytest.raises(ValidationError, match="console_scope is required"):
        EntraConfig(**API, console_client_id="console-spa")
    with pytest.raises(ValidationError, match="console_client_id is not"):
        EntraConfig(**API, console_scope="api://reprotect/.default")
    with pytest.raises(ValidationError, match=r"needs entra\.tenant_id"):
        EntraConfig(**SIGN_IN)


@pytest.mark.parametrize("value", ["", "two words", "tab\there", "line\nbreak"])
def test_the_client_id_and_scope_are_one_word(value):
    with pytest.raises(ValidationError, match="one word"):
        EntraConfig(**API, console_client_id=value, console_scope="api://reprotect/.default")
    with pytest.raises(ValidationError, match="one word"):
        EntraConfig(**API, console_client_id="console-spa", console_scope=value)


def test_the_settings_are_read_from_the_environment(monkeypatch):
    from app.settings import Settings

    for name, value in {"TENANT_ID": TENANT, "AUDIENCES": '["api://reprotect"]', "CONSOLE_CLIENT_ID": "spa",
                        "CONSOLE_SCOPE": "api://reprotect/access", "AUTHORITY": "https://login.partner.microsoftonline.cn/t",
                        "ISSUERS": '["https://login.partner.microsoftonline.cn/t/v2.0"]',
                        "JWKS_URL": "https://login.partner.microsoftonline.cn/t/discovery/v2.0/keys"}.items():  # fmt: skip
        monkeypatch.setenv(f"REPROTECT_AUTH__ENTRA__{name}", value)
    entra = Settings().auth.entra
    assert (entra.console_client_id, entra.console_scope) == ("spa", "api://reprotect/access")
    assert entra.authority_origin == "https://login.partner.microsoftonline.cn"
    assert entra.effective_issuers == ["https://login.partner.microsoftonline.cn/t/v2.0"]
