"""Microsoft Entra ID bearer tokens: verify signature (tenant JWKS), algorithm, issuer, audience and
lifetime with PyJWT, then map the claims to a :class:`~app.auth.principal.Principal`.

    AuthError (ServiceError)      the credentials are refused (401); ``code`` says why
    └── KeySetUnavailable         the tenant's signing keys cannot be fetched (503: not the caller's fault)
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import Any

import httpx
import jwt

from app.auth.principal import Principal, PrincipalKind, Role, highest_role
from app.errors import ServiceError
from app.scopes import ScopeSet, parse_scope
from app.settings import EntraConfig, https_or_loopback

log = logging.getLogger(__name__)

JwksFetcher = Callable[[], dict[str, Any]]

# PyJWT exception -> (code, message). First match wins; subclasses come before their bases.
# Messages are fixed text: they never echo the token or anything parsed out of it.
_PYJWT_ERRORS: list[tuple[type[jwt.PyJWTError], str, str]] = [
    (jwt.InvalidAudienceError, "wrong_audience", "The token is not meant for this service."),
    (jwt.InvalidIssuerError, "wrong_issuer", "The token was not issued by the expected tenant."),
    (jwt.InvalidAlgorithmError, "algorithm_not_allowed", "The token's signing algorithm is not allowed."),
    (jwt.InvalidSignatureError, "invalid_signature", "The token's signature does not verify."),
    (jwt.MissingRequiredClaimError, "invalid_token", "The token lacks a required claim."),
]


class AuthError(ServiceError):
    """The presented credentials are not acceptable; ``code`` is one of ``invalid_token``,
    ``invalid_signature``, ``token_expired``, ``token_not_yet_valid``, ``wrong_audience``,
    ``wrong_issuer``, ``unknown_key``, ``algorithm_not_allowed``."""

    code = "unauthenticated"


class KeySetUnavailable(AuthError):
    """No signing keys: the JWKS could not be fetched (and none were cached)."""

    code = "jwks_unavailable"


def https_fetcher(url: str, *, timeout_seconds: float) -> JwksFetcher:
    """A fetcher for the JWKS at ``url``: https only, except plain http to a loopback host (tests)."""
    # A query is allowed: Entra serves an app's own signing keys at ``…/discovery/v2.0/keys?appid=<client id>``.
    if not https_or_loopback(url, base_address=False):
        raise ValueError(f"the JWKS url must be https (plain http only to a loopback host): {url!r}")

    def fetch() -> dict[str, Any]:
        response = httpx.get(url, timeout=timeout_seconds, follow_redirects=False)
        response.raise_for_status()
        document = response.json()
        if not isinstance(document, dict):
            raise ValueError("the JWKS document is not a JSON object")
        return document

    return fetch


class SigningKeys:
    """The tenant's signing keys by ``kid``: cached for ``max_age`` seconds; a refresh (scheduled or
    for an unknown ``kid``) is attempted at most once per ``min_refresh`` seconds, successful or not.

    When a refresh fails the previous keys stay in use (Entra publishes keys well before it signs
    with them), and the failure is logged.
    """

    def __init__(self, fetch: JwksFetcher, *, max_age: float, min_refresh: float, clock: Callable[[], float]):
        self._fetch = fetch
        self._max_age = max_age
        self._min_refresh = min_refresh
        self._clock = clock
        self._keys: dict[str, jwt.PyJWK] = {}
        self._fetched_at: float | None = None
        self._attempted_at: float | None = None
        self._lock = threading.Lock()

    def get(self, kid: str) -> jwt.PyJWK | None:
        """The key named ``kid``, refreshing if stale or unknown; KeySetUnavailable when there are no keys."""
        with self._lock:
            now = self._clock()
            stale = self._fetched_at is None or now - self._fetched_at >= self._max_age
            if stale and self._may_refresh(now):
                self._refresh(now)
            if kid not in self._keys and self._may_refresh(now):
                self._refresh(now)
            if self._fetched_at is None:
                raise KeySetUnavailable("The identity provider's signing keys are unavailable; try again later.")
            return self._keys.get(kid)

    def _may_refresh(self, now: float) -> bool:
        return self._attempted_at is None or now - self._attempted_at >= self._min_refresh

    def _refresh(self, now: float) -> None:
        self._attempted_at = now
        try:
            keys = _signing_keys(self._fetch())
        except Exception as exc:  # network, HTTP status, JSON, no usable key: keep what we have
            log.warning("Could not refresh the Entra ID signing keys (%s): %s", type(exc).__name__, exc)
            return
        log.info("Fetched %d Entra ID signing key(s)", len(keys))
        self._keys = keys
        self._fetched_at = now


def _signing_keys(document: dict[str, Any]) -> dict[str, jwt.PyJWK]:
    entries = document.get("keys")
    if not isinstance(entries, list):
        raise ValueError("the JWKS document has no 'keys' list")
    usable = [
        entry
        for entry in entries
        if isinstance(entry, dict) and entry.get("use", "sig") == "sig" and isinstance(entry.get("kid"), str)
    ]
    # PyJWKSet skips keys it cannot build and raises when none is left.
    return {key.key_id: key for key in jwt.PyJWKSet(usable).keys if key.key_id}


class TokenVerifier:
    """Verifies Entra ID access tokens for one tenant and maps their claims to principals."""

    def __init__(
        self,
        config: EntraConfig,
        *,
        jwks_fetcher: JwksFetcher | None = None,
        clock: Callable[[], float] = time.time,
    ):
        if not config.enabled:
            raise ValueError("token authentication is disabled: entra.tenant_id is not set")
        self._config = config
        self._clock = clock
        fetch = jwks_fetcher or https_fetcher(config.effective_jwks_url, timeout_seconds=config.jwks_timeout_seconds)
        self._keys = SigningKeys(
            fetch, max_age=config.jwks_cache_seconds, min_refresh=config.jwks_min_refresh_seconds, clock=clock
        )
        self._scopes = {
            key.lower(): ScopeSet(parse_scope(text) for text in texts) for key, texts in config.principal_scopes.items()
        }

    def verify(self, token: str) -> dict[str, Any]:
        """The token's verified claims; AuthError (never quoting the token) when anything is wrong.

        Blocking: a JWKS refresh is an HTTP call, so call it from a worker thread in async code.
        """
        key = self._key_for(token)
        try:
            claims: dict[str, Any] = jwt.decode(
                token,
                key,
                algorithms=self._config.algorithms,
                audience=self._config.audiences,
                issuer=self._config.effective_issuers,
                # Lifetime is checked below against the injected clock; PyJWT only reads the wall clock.
                options={"require": ["exp"], "verify_exp": False, "verify_nbf": False, "verify_iat": False},
            )
        except jwt.PyJWTError as exc:
            raise _auth_error(exc) from exc
        _check_lifetime(claims, now=self._clock(), leeway=self._config.leeway_seconds)
        return claims

    def _key_for(self, token: str) -> jwt.PyJWK:
        # The header is read before any key is chosen, so "none", HS256-with-the-public-key and friends
        # are refused by name rather than left to the key type.
        try:
            header = jwt.get_unverified_header(token)
        except jwt.PyJWTError as exc:
            raise AuthError("The token is malformed.", code="invalid_token") from exc
        if header.get("alg") not in self._config.algorithms:
            raise AuthError("The token's signing algorithm is not allowed.", code="algorithm_not_allowed")
        kid = header.get("kid")
        if not isinstance(kid, str) or not kid:
            raise AuthError("The token does not name its signing key.", code="invalid_token")
        key = self._keys.get(kid)
        if key is None:
            raise AuthError("The token is signed with a key the tenant does not publish.", code="unknown_key")
        return key

    def principal(self, claims: dict[str, Any]) -> Principal:
        """The caller described by verified ``claims``.

        - id: ``oid``, else ``sub``.
        - kind: from ``idtyp`` when present ("app" is an application); otherwise a user exactly when
          the token carries ``scp`` (delegated tokens always do, app-only tokens never do).
        - role: the highest app role in ``roles`` that ``role_claims`` maps; None if none maps.
        - scopes: union of ``principal_scopes`` entries matching the object id, any id in ``groups``
          or any ``roles`` value (case-insensitive). Group overage (``_claim_names``, over ~200 groups)
          brings no ``groups`` claim: prefer app roles or object ids for such principals.
        """
        principal_id = _text(claims, "oid") or _text(claims, "sub")
        if principal_id is None:
            raise AuthError("The token names no subject.", code="invalid_token")
        roles = _texts(claims.get("roles"))
        lookup = [principal_id, *_texts(claims.get("groups")), *roles]
        return Principal(
            id=principal_id,
            kind=_kind(claims),
            name=_display_name(claims, default=principal_id),
            role=highest_role(Role(self._config.role_claims[r]) for r in roles if r in self._config.role_claims),
            scopes=ScopeSet(scope for key in lookup for scope in self._scopes.get(key.lower(), ())),
        )


def _auth_error(exc: jwt.PyJWTError) -> AuthError:
    for kind, code, message in _PYJWT_ERRORS:
        if isinstance(exc, kind):
            return AuthError(message, code=code)
    return AuthError("The token is malformed.", code="invalid_token")


def _check_lifetime(claims: dict[str, Any], *, now: float, leeway: float) -> None:
    if now - leeway >= _number(claims, "exp"):
        raise AuthError("The token has expired.", code="token_expired")
    for claim in ("nbf", "iat"):
        if claim in claims and _number(claims, claim) > now + leeway:
            raise AuthError("The token is not valid yet.", code="token_not_yet_valid")


def _number(claims: dict[str, Any], claim: str) -> float:
    value = claims.get(claim)
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise AuthError(f"The token's '{claim}' claim is not a number.", code="invalid_token")
    return float(value)


def _kind(claims: dict[str, Any]) -> PrincipalKind:
    idtyp = claims.get("idtyp")
    if idtyp is not None:
        return PrincipalKind.APPLICATION if idtyp == "app" else PrincipalKind.USER
    return PrincipalKind.USER if "scp" in claims else PrincipalKind.APPLICATION


def _display_name(claims: dict[str, Any], *, default: str) -> str:
    for claim in ("preferred_username", "upn", "name", "app_displayname", "appid", "azp"):
        if value := _text(claims, claim):
            return value
    return default


def _text(claims: dict[str, Any], claim: str) -> str | None:
    value = claims.get(claim)
    return value if isinstance(value, str) and value else None


def _texts(value: Any) -> list[str]:
    return [item for item in value if isinstance(item, str)] if isinstance(value, list) else []
