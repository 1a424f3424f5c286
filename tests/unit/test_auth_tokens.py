"""Entra ID bearer tokens: what is accepted, what is refused (and with which code), how the signing
keys are fetched and refreshed, and how claims become a principal."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import threading
from collections.abc import Iterator
from functools import cache
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from pydantic import ValidationError

from app.auth.principal import PrincipalKind, Role
from app.auth.tokens import AuthError, KeySetUnavailable, TokenVerifier, https_fetcher
from app.scopes import ScopeSet
from app.settings import EntraConfig

TENANT = "11111111-2222-3333-4444-555555555555"
AUDIENCE = "api://reprotect"
V2_ISSUER = f"https://login.microsoftonline.com/{TENANT}/v2.0"
V1_ISSUER = f"https://sts.windows.net/{TENANT}/"
NOW = 1_700_000_000.0
USER_OID = "aaaaaaaa-0000-0000-0000-000000000001"
GROUP_ID = "bbbbbbbb-0000-0000-0000-000000000002"
VAULT = "/subscriptions/sub-1/resourceGroups/rg-dr/providers/Microsoft.RecoveryServices/vaults/vault-1"


@cache
def private_key(name: str) -> rsa.RSAPrivateKey:
    """One RSA key per name, generated once per test run."""
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def public_jwk(name: str, kid: str) -> dict[str, Any]:
    jwk = jwt.algorithms.RSAAlgorithm.to_jwk(private_key(name).public_key(), as_dict=True)
    return {**jwk, "kid": kid, "use": "sig"}


def jwks(*entries: tuple[str, str]) -> dict[str, Any]:
    """A JWKS document with the public half of each (key name, kid)."""
    return {"keys": [public_jwk(name, kid) for name, kid in entries]}


def claims(**overrides: Any) -> dict[str, Any]:
    base = {
        "iss": V2_ISSUER,
        "aud": AUDIENCE,
        "iat": int(NOW) - 10,
        "nbf": int(NOW) - 10,
        "exp": int(NOW) + 3600,
        "oid": USER_OID,
        "sub": "pairwise-subject",
        "scp": "access_as_user",
        "preferred_username": "ops@contoso.example",
        "roles": ["Reprotect.Reader", "Reprotect.Operator", "Something.Else"],
        "groups": [GROUP_ID],
    }
    base.update(overrides)
    return {k: v for k, v in base.items() if v is not None}


def sign(payload: dict[str, Any], *, key: str = "one", kid: str = "kid-1", alg: str = "RS256") -> str:
    return jwt.encode(payload, private_key(key), algorithm=alg, headers={"kid": kid})


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def hand_made(header: dict[str, Any], payload: dict[str, Any], signature: bytes = b"") -> str:
    signing_input = f"{b64url(json.dumps(header).encode())}.{b64url(json.dumps(payload).encode())}"
    return f"{signing_input}.{b64url(signature)}"


class Jwks:
    """An injected JWKS fetcher that counts its calls and can be changed or broken."""

    def __init__(self, document: dict[str, Any]):
        self.document = document
        self.calls = 0
        self.broken = False

    def __call__(self) -> dict[str, Any]:
        self.calls += 1
        if self.broken:
            raise ConnectionError("login.microsoftonline.com unreachable")
        return self.document


class Clock:
    def __init__(self) -> None:
        self.now = NOW

    def __call__(self) -> float:
        return self.now


def config(**overrides: Any) -> EntraConfig:
    values: dict[str, Any] = {
        "tenant_id": TENANT,
        "audiences": [AUDIENCE],
        "principal_scopes": {
            USER_OID.upper(): [VAULT],
            GROUP_ID: ["/subscriptions/sub-2"],
            "Reprotect.Admin": ["*"],
        },
    }
    values.update(overrides)
    return EntraConfig(**values)


@pytest.fixture
def fetcher() -> Jwks:
    return Jwks(jwks(("one", "kid-1")))


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def verifier(fetcher: Jwks, clock: Clock) -> TokenVerifier:
    return TokenVerifier(config(), jwks_fetcher=fetcher, clock=clock)


def refused(verifier: TokenVerifier, token: str) -> AuthError:
    """The AuthError ``verify`` raises; its message must never quote the token."""
    with pytest.raises(AuthError) as caught:
        verifier.verify(token)
    if token:
        assert token not in str(caught.value)
    return caught.value


def test_a_valid_token_yields_its_claims_and_a_user_principal_with_role_and_scopes(verifier):
    verified = verifier.verify(sign(claims()))
    principal = verifier.principal(verified)

    assert verified["oid"] == USER_OID
    assert principal.id == USER_OID
    assert principal.kind is PrincipalKind.USER
    assert principal.name == "ops@contoso.example"
    assert principal.role is Role.OPERATOR  # the highest mapped role; unknown roles are ignored
    assert [principal.can(role) for role in Role] == [True, True, False]  # reader, operator, admin
    # The union of the entry for the object id (matched case-insensitively) and the one for the group.
    assert principal.scopes == ScopeSet.parse([VAULT, "/subscriptions/sub-2"])


def test_an_app_only_token_is_an_application_scoped_by_its_app_role(verifier):
    app_claims = claims(scp=None, preferred_username=None, groups=None, roles=["Reprotect.Admin"], azp="client-app")
    principal = verifier.principal(verifier.verify(sign(app_claims)))

    assert principal.kind is PrincipalKind.APPLICATION
    assert principal.name == "client-app"
    assert principal.role is Role.ADMIN
    assert principal.scopes.is_unrestricted


def test_idtyp_decides_the_kind_when_present(verifier):
    assert verifier.principal(claims(idtyp="app")).kind is PrincipalKind.APPLICATION
    assert verifier.principal(claims(idtyp="user", scp=None)).kind is PrincipalKind.USER


def test_a_principal_without_mapped_roles_or_scopes_may_do_and_see_nothing(verifier):
    principal = verifier.principal(claims(oid="someone-else", groups=["other-group"], roles=["Other.Role"]))

    assert principal.role is None
    assert not principal.can(Role.READER)
    assert principal.scopes == ScopeSet()
    assert not principal.scopes.covers(VAULT)


def test_the_subject_stands_in_for_a_missing_object_id_and_no_subject_is_refused(verifier):
    assert verifier.principal(claims(oid=None)).id == "pairwise-subject"
    with pytest.raises(AuthError) as caught:
        verifier.principal(claims(oid=None, sub=None))
    assert caught.value.code == "invalid_token"


def test_tokens_from_the_v1_issuer_are_accepted_too(verifier):
    assert verifier.verify(sign(claims(iss=V1_ISSUER)))["iss"] == V1_ISSUER


def test_an_audience_list_is_accepted_when_it_names_this_service(verifier):
    assert verifier.verify(sign(claims(aud=["api://other", AUDIENCE])))


@pytest.mark.parametrize(
    ("overrides", "code"),
    [
        ({"aud": "api://another-service"}, "wrong_audience"),
        ({"aud": None}, "invalid_token"),
        ({"iss": "https://login.microsoftonline.com/another-tenant/v2.0"}, "wrong_issuer"),
        ({"iss": None}, "invalid_token"),
        ({"exp": None}, "invalid_token"),
        ({"exp": "tomorrow"}, "invalid_token"),
        ({"exp": int(NOW) - 61}, "token_expired"),
        ({"nbf": int(NOW) + 61}, "token_not_yet_valid"),
        ({"iat": int(NOW) + 61}, "token_not_yet_valid"),
    ],
)
def test_tokens_with_bad_claims_are_refused_with_a_specific_code(verifier, overrides, code):
    assert refused(verifier, sign(claims(**overrides))).code == code


def test_clock_skew_within_the_leeway_is_tolerated(verifier):
    assert verifier.verify(sign(claims(exp=int(NOW) - 59, nbf=int(NOW) + 59, iat=int(NOW) + 59)))


def test_an_unsigned_alg_none_token_is_refused_before_any_key_is_looked_up(verifier, fetcher):
    token = hand_made({"alg": "none", "typ": "JWT", "kid": "kid-1"}, claims())

    assert refused(verifier, token).code == "algorithm_not_allowed"
    assert fetcher.calls == 0


def test_hs256_signed_with_the_public_key_as_secret_is_refused(verifier):
    public_pem = (
        private_key("one")
        .public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    )
    header, payload = {"alg": "HS256", "typ": "JWT", "kid": "kid-1"}, claims(roles=["Reprotect.Admin"])
    signing_input = hand_made(header, payload).rsplit(".", 1)[0].encode()
    token = hand_made(header, payload, hmac.new(public_pem, signing_input, hashlib.sha256).digest())

    assert refused(verifier, token).code == "algorithm_not_allowed"


def test_symmetric_algorithms_cannot_even_be_configured():
    with pytest.raises(ValidationError, match="algorithms"):
        config(algorithms=["RS256", "HS256"])
    with pytest.raises(ValidationError, match="algorithms"):
        config(algorithms=["none"])


def test_a_tampered_payload_fails_the_signature_check(verifier):
    header, _, signature = sign(claims()).split(".")
    forged = b64url(json.dumps(claims(roles=["Reprotect.Admin"])).encode())

    assert refused(verifier, f"{header}.{forged}.{signature}").code == "invalid_signature"


def test_a_token_signed_by_another_key_under_a_known_kid_fails_the_signature_check(verifier):
    assert refused(verifier, sign(claims(), key="two", kid="kid-1")).code == "invalid_signature"


@pytest.mark.parametrize("garbage", ["", "not a token", "a.b.c", "eyJhbGciOiJSUzI1NiJ9.e30", "....."])
def test_garbage_is_refused_as_an_invalid_token(verifier, garbage):
    assert refused(verifier, garbage).code == "invalid_token"


def test_a_token_without_a_kid_is_refused(verifier):
    token = jwt.encode(claims(), private_key("one"), algorithm="RS256")

    assert refused(verifier, token).code == "invalid_token"


def test_an_unknown_kid_refreshes_the_keys_once_and_a_second_one_right_after_does_not(verifier, fetcher, clock):
    verifier.verify(sign(claims()))
    assert fetcher.calls == 1
    clock.now += 61  # past the minimum refresh interval, well within the cache lifetime

    assert refused(verifier, sign(claims(), key="two", kid="kid-2")).code == "unknown_key"
    assert fetcher.calls == 2
    assert refused(verifier, sign(claims(), key="two", kid="kid-3")).code == "unknown_key"
    assert fetcher.calls == 2
    verifier.verify(sign(claims()))  # the known key needs no fetch
    assert fetcher.calls == 2


def test_a_rotated_in_key_is_accepted_after_one_refresh(verifier, fetcher, clock):
    verifier.verify(sign(claims()))
    fetcher.document = jwks(("one", "kid-1"), ("two", "kid-2"))
    clock.now += 61

    assert verifier.verify(sign(claims(), key="two", kid="kid-2"))
    assert fetcher.calls == 2


def test_a_key_dropped_from_the_jwks_is_refused_after_the_next_refresh(verifier, fetcher, clock):
    verifier.verify(sign(claims()))
    fetcher.document = jwks(("two", "kid-2"))
    clock.now += 3600

    assert verifier.verify(sign(claims(), key="two", kid="kid-2"))
    assert refused(verifier, sign(claims())).code == "unknown_key"


def test_a_rotated_in_key_waits_for_the_minimum_refresh_interval(verifier, fetcher, clock):
    verifier.verify(sign(claims()))
    fetcher.document = jwks(("one", "kid-1"), ("two", "kid-2"))
    clock.now += 30

    assert refused(verifier, sign(claims(), key="two", kid="kid-2")).code == "unknown_key"
    assert fetcher.calls == 1


def test_the_keys_are_fetched_again_once_the_cache_expires(verifier, fetcher, clock):
    verifier.verify(sign(claims()))
    clock.now += 3600

    verifier.verify(sign(claims()))
    assert fetcher.calls == 2


def test_when_a_refresh_fails_the_cached_keys_stay_in_use(verifier, fetcher, clock):
    verifier.verify(sign(claims()))
    fetcher.broken = True
    clock.now += 3600

    assert verifier.verify(sign(claims()))
    assert fetcher.calls == 2
    assert verifier.verify(sign(claims()))  # no new attempt inside the minimum interval
    assert fetcher.calls == 2


def test_without_any_keys_tokens_are_refused_as_keys_unavailable_and_fetches_are_paced(fetcher, clock):
    fetcher.broken = True
    verifier = TokenVerifier(config(), jwks_fetcher=fetcher, clock=clock)

    for _ in range(3):
        assert isinstance(refused(verifier, sign(claims())), KeySetUnavailable)
    assert fetcher.calls == 1
    fetcher.broken = False
    clock.now += 60

    assert verifier.verify(sign(claims()))
    assert fetcher.calls == 2


def test_a_jwks_without_usable_signing_keys_counts_as_a_failed_fetch(clock):
    encryption_only = {"keys": [{**public_jwk("one", "kid-1"), "use": "enc"}]}
    verifier = TokenVerifier(config(), jwks_fetcher=Jwks(encryption_only), clock=clock)

    assert refused(verifier, sign(claims())).code == "jwks_unavailable"


@pytest.fixture
def jwks_server() -> Iterator[str]:
    """A real HTTP server on the loopback interface serving key "one" as kid-1."""
    body = json.dumps(jwks(("one", "kid-1"))).encode()

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            status = 200 if self.path == "/keys" else 404
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


def test_the_keys_are_fetched_over_http_from_the_configured_url(jwks_server, clock):
    verifier = TokenVerifier(config(jwks_url=f"{jwks_server}/keys"), clock=clock)

    assert verifier.verify(sign(claims()))["oid"] == USER_OID


def test_an_http_error_from_the_jwks_url_leaves_no_keys(jwks_server, clock):
    verifier = TokenVerifier(config(jwks_url=f"{jwks_server}/missing"), clock=clock)

    assert refused(verifier, sign(claims())).code == "jwks_unavailable"


def test_the_default_jwks_url_is_the_tenants_v2_keys():
    assert config().effective_jwks_url == f"https://login.microsoftonline.com/{TENANT}/discovery/v2.0/keys"
    assert config().effective_issuers == [V1_ISSUER, V2_ISSUER]


@pytest.mark.parametrize("url", ["http://login.example.com/keys", "ftp://127.0.0.1/keys", "https:///keys", "keys"])
def test_the_jwks_url_must_be_https_unless_it_is_loopback(url):
    with pytest.raises(ValueError, match="https"):
        https_fetcher(url, timeout_seconds=1)


def test_a_jwks_url_may_carry_a_query_as_an_apps_own_keys_do():
    https_fetcher(f"https://login.microsoftonline.com/{TENANT}/discovery/v2.0/keys?appid=app-1", timeout_seconds=1)


def test_a_verifier_needs_a_tenant_and_a_tenant_needs_an_audience():
    with pytest.raises(ValueError, match="disabled"):
        TokenVerifier(EntraConfig())
    with pytest.raises(ValidationError, match="audiences"):
        EntraConfig(tenant_id=TENANT)


def test_bad_scopes_in_the_configuration_are_refused_at_load():
    with pytest.raises(ValidationError, match="not a scope"):
        config(principal_scopes={USER_OID: ["/subscriptions/sub-1/resourceGroups"]})
