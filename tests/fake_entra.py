"""A fake Microsoft Entra ID authority on loopback http for the console's sign-in tests: the v2.0 authorize
endpoint (straight back to the redirect URI with a code and the state), the token endpoint (PKCE S256 checked,
an RS256 access token signed by a test key, CORS as Entra answers single-page applications) and the tenant's
JWKS, which the API under test is configured to use (the code comes back in the fragment or the query, as the
page asks with ``response_mode``). Knobs let a test tamper with the state or the challenge."""

from __future__ import annotations

import base64
import hashlib
import json
import secrets
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import jwt
from cryptography.hazmat.primitives.asymmetric import rsa

TENANT = "11111111-2222-3333-4444-555555555555"
CLIENT_ID = "console-spa-client"
AUDIENCE = "api://reprotect-test"
SCOPE = f"{AUDIENCE}/access"
KID = "fake-entra-1"


def s256(verifier: str) -> str:
    """The PKCE S256 challenge of ``verifier`` (RFC 7636)."""
    return base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()


@dataclass
class FakeEntra:
    """What the fake issued and was asked, and how it should misbehave next."""

    port: int = 0
    redirect_uris: set[str] = field(default_factory=set)
    role: str = "Reprotect.Operator"
    expires_in: int = 3600
    tamper_state: bool = False  # answer the authorize request with a state the page did not send
    corrupt_challenge: bool = False  # remember another challenge than the page sent (its verifier cannot match)
    authorize_requests: list[dict[str, str]] = field(default_factory=list)
    token_requests: list[dict[str, str]] = field(default_factory=list)
    token_answers: list[int] = field(default_factory=list)
    issued: list[str] = field(default_factory=list)
    _codes: dict[str, dict[str, str]] = field(default_factory=dict)
    _key: rsa.RSAPrivateKey = field(
        default_factory=lambda: rsa.generate_private_key(public_exponent=65537, key_size=2048)
    )

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def authority(self) -> str:
        return f"{self.base_url}/{TENANT}"

    @property
    def issuer(self) -> str:
        return f"{self.authority}/v2.0"

    @property
    def jwks_url(self) -> str:
        return f"{self.authority}/discovery/v2.0/keys"

    def api_env(self) -> dict[str, str]:
        """The API's settings for this authority, as an operator would set them."""
        prefix = "REPROTECT_AUTH__ENTRA__"
        return {
            f"{prefix}TENANT_ID": TENANT,
            f"{prefix}AUDIENCES": json.dumps([AUDIENCE]),
            f"{prefix}ISSUERS": json.dumps([self.issuer]),
            f"{prefix}JWKS_URL": self.jwks_url,
            f"{prefix}PRINCIPAL_SCOPES": json.dumps({"Reprotect.Reader": ["*"], "Reprotect.Operator": ["*"]}),
            f"{prefix}CONSOLE_CLIENT_ID": CLIENT_ID,
            f"{prefix}CONSOLE_SCOPE": SCOPE,
            f"{prefix}AUTHORITY": self.authority,
        }

    def reset(self) -> None:
        """Forget what was asked and misbehave no more."""
        self.tamper_state = self.corrupt_challenge = False
        self.expires_in, self.role = 3600, "Reprotect.Operator"
        for record in (self.authorize_requests, self.token_requests, self.token_answers, self.issued):
            record.clear()

    def jwks(self) -> dict[str, Any]:
        jwk = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(self._key.public_key()))
        return {"keys": [{**jwk, "kid": KID, "use": "sig", "alg": "RS256"}]}

    def authorize(self, query: dict[str, str]) -> tuple[int, dict[str, str], dict[str, Any]]:
        """(status, headers, body): a redirect back with a code, or 400 for a request Entra would refuse."""
        self.authorize_requests.append(query)
        wanted = {"client_id": CLIENT_ID, "response_type": "code", "code_challenge_method": "S256", "scope": SCOPE}
        wrong = [name for name, value in wanted.items() if query.get(name) != value]
        if wrong or query.get("redirect_uri") not in self.redirect_uris or not query.get("code_challenge"):
            return 400, {}, {"error": "invalid_request", "error_description": f"wrong or missing: {wrong}"}
        code = secrets.token_urlsafe(24)
        challenge = s256("not the page's verifier") if self.corrupt_challenge else query["code_challenge"]
        self._codes[code] = {"challenge": challenge, "redirect_uri": query["redirect_uri"]}
        state = "tampered-" + query.get("state", "") if self.tamper_state else query.get("state", "")
        separator = "#" if query.get("response_mode") == "fragment" else "?"  # Entra's default for a code: query
        location = f"{query['redirect_uri']}{separator}{urlencode({'code': code, 'state': state})}"
        return 302, {"Location": location}, {}

    def token(self, form: dict[str, str]) -> tuple[int, dict[str, Any]]:
        """(status, body): an access token for a good code and verifier, else Entra's error shape."""
        self.token_requests.append(form)
        grant = self._codes.pop(form.get("code", ""), None)  # a code is good once
        if form.get("grant_type") != "authorization_code" or form.get("client_id") != CLIENT_ID or grant is None:
            return 400, {"error": "invalid_grant", "error_description": "AADSTS70000: The code is not valid."}
        if form.get("redirect_uri") != grant["redirect_uri"]:
            return 400, {"error": "invalid_grant", "error_description": "AADSTS50011: The redirect URI differs."}
        if "client_secret" in form:
            return 400, {"error": "invalid_request", "error_description": "A public client sends no secret."}
        if s256(form.get("code_verifier", "")) != grant["challenge"]:
            return 400, {
                "error": "invalid_grant",
                "error_description": "AADSTS501481: The Code_Verifier does not match the code_challenge.",
            }
        now = int(time.time())
        claims = {"iss": self.issuer, "aud": AUDIENCE, "oid": "entra-user-1", "sub": "entra-subject",
                  "scp": "access", "preferred_username": "ops@example.com", "roles": [self.role],
                  "iat": now, "nbf": now, "exp": now + 3600}  # fmt: skip
        token = jwt.encode(claims, self._key, algorithm="RS256", headers={"kid": KID})
        self.issued.append(token)
        return 200, {"token_type": "Bearer", "access_token": token, "expires_in": self.expires_in, "scope": SCOPE}


def _handler(fake: FakeEntra) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            parts = urlsplit(self.path)
            if parts.path == f"/{TENANT}/discovery/v2.0/keys":
                self._json(200, fake.jwks())
            elif parts.path == f"/{TENANT}/oauth2/v2.0/authorize":
                query = {name: values[0] for name, values in parse_qs(parts.query).items()}
                status, headers, body = fake.authorize(query)
                self._json(status, body, headers)
            else:
                self._json(404, {"error": "not_found"})

        def do_OPTIONS(self) -> None:  # a CORS preflight (a form POST needs none, but answer it as Entra does)
            self.send_response(204)
            self._cors()
            self.send_header("Access-Control-Allow-Methods", "POST")
            self.send_header("Access-Control-Allow-Headers", "Content-Type")
            self.end_headers()

        def do_POST(self) -> None:
            if urlsplit(self.path).path != f"/{TENANT}/oauth2/v2.0/token":
                self._json(404, {"error": "not_found"})
                return
            length = int(self.headers.get("Content-Length") or 0)
            form = {name: values[0] for name, values in parse_qs(self.rfile.read(length).decode()).items()}
            status, body = fake.token(form)
            fake.token_answers.append(status)
            self._json(status, body)

        def _cors(self) -> None:
            self.send_header("Access-Control-Allow-Origin", self.headers.get("Origin") or "*")

        def _json(self, status: int, body: dict[str, Any], headers: dict[str, str] | None = None) -> None:
            data = json.dumps(body).encode()
            self.send_response(status)
            self._cors()
            for name, value in (headers or {}).items():
                self.send_header(name, value)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.send_header("Cache-Control", "no-store")
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, *_: Any) -> None:
            pass

    return Handler


class RunningFakeEntra:
    """The fake served on a free loopback port in a thread; ``with`` stops it."""

    def __init__(self) -> None:
        self.fake = FakeEntra()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(self.fake))
        self.fake.port = self._server.server_address[1]
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    def __enter__(self) -> FakeEntra:
        self._thread.start()
        return self.fake

    def __exit__(self, *_: object) -> None:
        self._server.shutdown()
        self._server.server_close()
