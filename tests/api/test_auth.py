"""Authentication, scoped authorization and the audit trail, through the real app and database."""

from __future__ import annotations

import json
import threading
import time
import uuid
from collections.abc import Iterator
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa
from fastapi.routing import APIRoute
from fastapi.testclient import TestClient
from starlette.routing import Route

from app.api.app import create_app
from app.auth.authenticator import Authenticator
from app.auth.models import ApiKey
from app.db import transaction, utcnow
from app.settings import EntraConfig, RateLimitConfig
from tests.api.conftest import make_key
from tests.drive import drive

PUBLIC = {("GET", "/healthz"), ("GET", "/readyz")}
# The API's own documentation: the same for everyone, no data in it.
DOCS = {("GET", "/openapi.json"), ("GET", "/docs"), ("GET", "/docs/oauth2-redirect"), ("GET", "/redoc")}
READER_ROUTES = {
    "/jobs",
    "/jobs/summary",
    "/jobs/{job_id}",
    "/reprotect/{request_id}",
    "/events/jobs",
    "/vms",
    "/vms/summary",
    "/metrics",  # fleet-wide figures: readers of unrestricted scope (tests/metrics)
}
READER_ROUTES.add("/me")  # the caller's role and scopes (app/api/routes/me.py)
READER_ROUTES.add("/status")  # the pipeline's health: readers of unrestricted scope (tests/api/test_status.py)
OPERATOR_ROUTES = {"/reprotect", "/jobs/{job_id}/cancel", "/jobs/{job_id}/retry", "/jobs:retry", "/jobs:cancel"}
OPERATOR_ROUTES |= {"/drills", "/drills/{request_id}/cleanup"}  # test failover and its cleanup (issue 15)
OPERATOR_ROUTES |= {"/failovers", "/failovers/{request_id}/commit"}  # failover and its commit (issue 15, slice 2)
# Campaigns (issue 15, slice 3): one path, read by readers and created by operators, so named with its method.
READER_ROUTES |= {("GET", "/campaigns"), "/campaigns/{campaign_id}"}
OPERATOR_ROUTES |= {("POST", "/campaigns")} | {
    f"/campaigns/{{campaign_id}}/{action}" for action in ("approve", "pause", "resume", "abort", "retry")
}
OTHER_VAULT = "/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/elsewhere/providers/Microsoft.RecoveryServices/vaults/other"


def _routes(app) -> list[tuple[str, str]]:
    """Every (method, path) the app serves, included routers and plain routes alike."""
    found = []
    for route in app.routes:
        if hasattr(route, "effective_route_contexts"):  # an included router (FastAPI resolves them lazily)
            found += [(m, ctx.path) for ctx in route.effective_route_contexts() for m in sorted(ctx.methods)]
        elif isinstance(route, APIRoute | Route):
            found += [(m, route.path) for m in sorted(route.methods or ()) if m != "HEAD"]
    return found


def _call(client, method: str, path: str, headers=None):
    concrete = path.replace("{key_id}", "0123abcd")
    for name in ("job_id", "request_id", "webhook_id", "delivery_id"):
        concrete = concrete.replace("{" + name + "}", str(uuid.uuid4()))
    body = {} if method in ("POST", "PATCH", "PUT") else None
    return client.request(method, concrete, json=body, headers=headers or {})


@pytest.fixture
def bare(container) -> Iterator[TestClient]:
    """The app without credentials."""
    with TestClient(create_app(container)) as client:
        yield client


def test_every_route_but_health_refuses_callers_without_credentials(bare, container):
    unlimited = RateLimitConfig(unauthenticated_limit="100000/minute")  # 4 refusals a route from one address
    container.auth = Authenticator(
        container.settings.auth.model_copy(update={"rate_limit": unlimited}), container.sessions
    )
    routes = _routes(bare.app)
    assert len(routes) >= 17  # a new route is enumerated here automatically
    named = READER_ROUTES | OPERATOR_ROUTES
    assert {r for r in routes if r not in PUBLIC | DOCS and r[1] not in named and r not in named}
    for method, path in routes:
        answer = _call(bare, method, path)
        if (method, path) in PUBLIC | DOCS:
            assert answer.status_code in (200, 503), (method, path)
            continue
        assert answer.status_code == 401, (method, path, answer.status_code, answer.text)
        assert answer.headers["content-type"] == "application/problem+json"
        assert answer.headers["WWW-Authenticate"].startswith("Bearer")
        for wrong in ("Basic dXNlcjpwdw==", "Bearer rpk_00000000_" + "x" * 43, "Bearer not-a-token"):
            assert _call(bare, method, path, {"Authorization": wrong}).status_code == 401, (method, path, wrong)


@pytest.mark.parametrize("role", ["reader", "operator", "admin"])
def test_each_role_reaches_exactly_its_routes(bare, container, role):
    headers = {"Authorization": f"Bearer {make_key(container, role=role)}"}
    allowed = {
        "reader": READER_ROUTES,
        "operator": READER_ROUTES | OPERATOR_ROUTES,
    }.get(role)
    for method, path in _routes(bare.app):
        if (method, path) in PUBLIC | DOCS:
            continue
        answer = _call(bare, method, path, headers)
        if allowed is None or path in allowed or (method, path) in allowed:
            assert answer.status_code not in (401, 403), (role, method, path, answer.text)
        else:
            assert answer.status_code == 403, (role, method, path, answer.status_code)
            assert answer.json()["code"] == "insufficient_role"


def test_a_reprotect_outside_the_callers_scopes_is_403_listing_them(bare, container, demo):
    headers = {"Authorization": f"Bearer {make_key(container, role='operator', scopes=(OTHER_VAULT,))}"}
    vms = [{"item_id": demo["committed"][0]["id"]}, {"vault_id": OTHER_VAULT, "vm_name": "mine"}]
    refused = bare.post("/reprotect", json={"vms": vms}, headers=headers)
    assert refused.status_code == 403
    assert refused.json()["code"] == "outside_scope"
    assert refused.json()["details"]["outside_scope"] == [demo["committed"][0]["id"]]


def test_rows_outside_the_callers_scopes_do_not_exist_for_it(api, bare, container, demo):
    accepted = api.post("/reprotect", json={"vms": [{"item_id": demo["committed"][0]["id"]}]}).json()
    job_id, request_id = accepted["jobs"][0]["id"], accepted["request_id"]
    api.post("/webhooks", json={"url": "http://127.0.0.1:9/hooks"}).raise_for_status()
    drive(container)
    outsider = {"Authorization": f"Bearer {make_key(container, role='admin', scopes=(OTHER_VAULT,))}"}
    insider = {"Authorization": f"Bearer {make_key(container, role='reader', scopes=(demo['vault_id'],))}"}

    assert bare.get(f"/jobs/{job_id}", headers=insider).status_code == 200
    assert [j["id"] for j in bare.get("/jobs", headers=insider).json()["items"]] == [job_id]
    missing = bare.get(f"/jobs/{uuid.uuid4()}", headers=outsider).json()
    for probe in (
        bare.get(f"/jobs/{job_id}", headers=outsider),
        bare.post(f"/jobs/{job_id}/cancel", headers=outsider),
        bare.post(f"/jobs/{job_id}/retry", headers=outsider),
        bare.get(f"/reprotect/{request_id}", headers=outsider),
    ):
        assert probe.status_code == 404
        assert probe.json()["title"] == missing["title"]
    assert bare.get("/jobs", headers=outsider).json()["items"] == []
    assert bare.get("/webhook-deliveries", headers=outsider).json()["items"] == []
    assert bare.get("/webhooks", headers=outsider).json()["items"] == []  # registered by an unrestricted admin
    delivery = api.get("/webhook-deliveries").json()["items"][0]["id"]
    assert bare.get(f"/webhook-deliveries/{delivery}", headers=outsider).status_code == 404
    assert bare.post(f"/webhook-deliveries/{delivery}/redeliver", headers=outsider).status_code == 404
    assert bare.get("/audit", headers=outsider).status_code == 403


def test_the_job_history_records_who_asked(bare, container, demo):
    key = make_key(container, role="operator", name="portal")
    headers = {"Authorization": f"Bearer {key}"}
    job = bare.post("/reprotect", json={"vms": [{"item_id": demo["committed"][0]["id"]}]}, headers=headers).json()
    cancelled = bare.post(f"/jobs/{job['jobs'][0]['id']}/cancel", headers=headers).json()
    actors = [h["actor"] for h in cancelled["history"]]
    assert actors[0].startswith("key:")
    assert actors == [actors[0], actors[0]]


def test_key_lifecycle_and_its_audit_trail(api, bare, container):
    created = api.post("/api-keys", json={"name": "nightly", "role": "reader", "scopes": ["*"]})
    assert created.status_code == 201, created.text
    key = created.json()["key"]
    assert key.startswith("rpk_")
    listed = api.get("/api-keys").text
    assert key not in listed
    assert key.split("_", 2)[2] not in listed  # the whole secret (it may hold "_" itself)
    with transaction(container.sessions) as session:
        stored = session.get_one(ApiKey, created.json()["id"])
        assert key not in (stored.key_hash, stored.name)
    reader = {"Authorization": f"Bearer {key}"}
    assert bare.get("/jobs", headers=reader).status_code == 200
    assert bare.post("/reprotect", json={"vms": []}, headers=reader).status_code == 403
    assert api.delete(f"/api-keys/{created.json()['id']}").status_code == 204
    assert bare.get("/jobs", headers=reader).status_code == 401
    escalation = bare.post(
        "/api-keys",
        json={"name": "x", "role": "admin", "scopes": ["*"]},
        headers={"Authorization": f"Bearer {make_key(container, role='admin', scopes=(OTHER_VAULT,))}"},
    )
    assert escalation.status_code == 403

    expiring = api.post("/api-keys", json={"name": "temp", "role": "reader", "scopes": ["*"],
                                           "expires_at": (utcnow() + timedelta(hours=1)).isoformat()}).json()  # fmt: skip
    assert bare.get("/jobs", headers={"Authorization": f"Bearer {expiring['key']}"}).status_code == 200
    with transaction(container.sessions) as session:
        session.get_one(ApiKey, expiring["id"]).expires_at = utcnow() - timedelta(seconds=1)
    assert bare.get("/jobs", headers={"Authorization": f"Bearer {expiring['key']}"}).status_code == 401

    trail = api.get("/audit", params={"limit": 200}).json()["items"]
    seen = {(e["method"], e["route"], e["outcome"]) for e in trail}
    assert ("POST", "/api-keys", "succeeded") in seen
    assert ("DELETE", "/api-keys/{key_id}", "succeeded") in seen
    assert ("POST", "/reprotect", "denied") in seen
    assert ("GET", "/jobs", "denied") in seen  # the revoked key's refusal
    assert ("POST", "/api-keys", "denied") in seen
    assert all(e["request_id"] for e in trail)
    assert api.get("/audit", params={"outcome": "denied"}).json()["items"]
    assert key not in json.dumps(trail)


def test_request_ids_are_echoed_or_made_and_cors_is_closed(api):
    given = api.get("/jobs", headers={"x-request-id": "portal-42"})
    assert given.headers["x-request-id"] == "portal-42"
    made = api.get("/jobs", headers={"x-request-id": "bad id with spaces"}).headers["x-request-id"]
    assert made != "bad id with spaces"
    assert len(made) == 32
    assert api.get("/healthz").headers["x-request-id"]
    preflight = api.options("/jobs", headers={"Origin": "https://evil.example", "Access-Control-Request-Method": "GET"})
    assert "access-control-allow-origin" not in preflight.headers


def test_a_caller_over_its_rate_is_429_with_retry_after(bare, container):
    container.auth = Authenticator(
        container.settings.auth.model_copy(update={"rate_limit": RateLimitConfig(limit="3/minute")}),
        container.sessions,
    )
    headers = {"Authorization": f"Bearer {make_key(container, role='reader')}"}
    statuses = [bare.get("/jobs", headers=headers).status_code for _ in range(4)]
    assert statuses == [200, 200, 200, 429]
    limited = bare.get("/jobs", headers=headers)
    assert int(limited.headers["Retry-After"]) >= 1
    assert limited.json()["code"] == "rate_limited"
    other = {"Authorization": f"Bearer {make_key(container, role='reader', name='other')}"}
    assert bare.get("/jobs", headers=other).status_code == 200


# Entra ID tokens, signed with a key made here and published on a local JWKS endpoint.
TENANT = "11111111-2222-3333-4444-555555555555"
AUDIENCE = "api://reprotect"
ISSUER = f"https://login.microsoftonline.com/{TENANT}/v2.0"


@pytest.fixture(scope="module")
def signing_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


@pytest.fixture
def jwks_url(signing_key) -> Iterator[str]:
    jwk = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(signing_key.public_key()))
    document = json.dumps({"keys": [{**jwk, "kid": "k1", "use": "sig", "alg": "RS256"}]}).encode()

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(200)
            self.send_header("content-type", "application/json")
            self.send_header("content-length", str(len(document)))
            self.end_headers()
            self.wfile.write(document)

        def log_message(self, *_) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/discovery/v2.0/keys"
    server.shutdown()
    server.server_close()


@pytest.fixture
def entra(bare, container, jwks_url):
    entra = EntraConfig(
        tenant_id=TENANT,
        audiences=[AUDIENCE],
        jwks_url=jwks_url,
        principal_scopes={"ops-group": ["*"]},
    )
    container.auth = Authenticator(container.settings.auth.model_copy(update={"entra": entra}), container.sessions)
    return bare


def _token(key, **overrides) -> str:
    now = int(time.time())
    claims = {"iss": ISSUER, "aud": AUDIENCE, "oid": "user-1", "sub": "s", "scp": "access", "iat": now,
              "nbf": now, "exp": now + 600, "roles": ["Reprotect.Operator"], "groups": ["ops-group"]}  # fmt: skip
    claims.update(overrides)
    return jwt.encode(claims, key, algorithm="RS256", headers={"kid": claims.pop("kid", "k1")})


def test_entra_tokens_are_verified_and_every_bad_one_is_401(entra, signing_key):
    good = _token(signing_key)
    assert entra.get("/jobs", headers={"Authorization": f"Bearer {good}"}).status_code == 200
    assert entra.get("/audit", headers={"Authorization": f"Bearer {good}"}).status_code == 403  # operator only
    other_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    header, payload, signature = good.split(".")
    forged_payload = jwt.utils.base64url_encode(
        json.dumps({**jwt.decode(good, options={"verify_signature": False}), "roles": ["Reprotect.Admin"]}).encode()
    ).decode()
    none_header = jwt.utils.base64url_encode(b'{"alg":"none","typ":"JWT"}').decode()
    now = int(time.time())
    bad = {
        "wrong audience": _token(signing_key, aud="api://someone-else"),
        "wrong issuer": _token(signing_key, iss="https://login.microsoftonline.com/other/v2.0"),
        "expired": _token(signing_key, exp=now - 3600, iat=now - 7200, nbf=now - 7200),
        "not yet valid": _token(signing_key, nbf=now + 3600),
        "alg none": f"{none_header}.{payload}.",
        "unknown key": _token(signing_key, kid="k-unknown"),
        "signed by another key": _token(other_key),
        "tampered payload": f"{header}.{forged_payload}.{signature}",
        "garbage": "a.b.c",
    }
    for what, token in bad.items():
        answer = entra.get("/jobs", headers={"Authorization": f"Bearer {token}"})
        assert answer.status_code == 401, what
        assert token not in answer.text, what
