"""Who is calling: an API key (looked up by hash) or an Entra ID token (verified against the JWKS),
then the caller's rate limit. Framework-free; the API wraps it in dependencies."""

from __future__ import annotations

from sqlalchemy.orm import Session, sessionmaker

from app.auth import api_keys, revocation, service
from app.auth.key_cache import KeyCache
from app.auth.principal import Principal
from app.auth.rate_limit import RateLimiter
from app.auth.tokens import AuthError, TokenVerifier
from app.errors import RateLimited
from app.settings import AuthConfig

_REFUSALS = "reprotect-refused-source"


class Authenticator:
    """Turns an ``Authorization`` credential into a principal, or refuses it."""

    def __init__(self, config: AuthConfig, sessions: sessionmaker[Session]):
        self._sessions = sessions
        self._tokens = TokenVerifier(config.entra) if config.entra.enabled else None
        self._limiter = RateLimiter(config.rate_limit) if config.rate_limit.enabled else None
        self._refusals = (
            RateLimiter(config.rate_limit, limit=config.rate_limit.unauthenticated_limit, namespace=_REFUSALS)
            if config.rate_limit.enabled
            else None
        )
        # Key lookups are cached only where revocations are heard across processes (Redis).
        url = config.effective_revocation_url
        self.revocations = revocation.RedisRevocations(url) if url else None
        self._cache = KeyCache(config.key_cache_seconds) if url and config.key_cache_seconds > 0 else None
        if self.revocations is not None:
            revocation.wire(sessions, self.revocations)

    def principal(self, credential: str | None, *, source: str | None = None) -> Principal:
        """The caller behind a bearer credential (never echoed in errors). ``source`` (the client's
        address): once its refused credentials exceed their limit, each further refusal is a 429 with
        ``Retry-After`` instead of a 401 (a guesser is slowed down and told so); good credentials from the
        same address still pass (callers behind one NAT or ingress are not locked out by one of them)."""
        if source is None or self._refusals is None:
            return self._authenticated(credential)
        try:
            return self._authenticated(credential)
        except AuthError:
            decision = self._refusals.hit(source)
            if not decision.allowed:
                raise RateLimited(
                    f"More than {decision.limit} refused credentials from this address in the current window.",
                    retry_after=decision.retry_after_seconds,
                ) from None
            raise

    def _authenticated(self, credential: str | None) -> Principal:
        if not credential:
            raise AuthError(
                "Authentication required: send 'Authorization: Bearer <API key or Entra ID token>'.",
                code="unauthenticated",
            )
        if credential.startswith(api_keys.PREFIX):
            found = self._api_key(credential)
        elif self._tokens is not None:
            found = self._tokens.principal(self._tokens.verify(credential))
        else:
            raise AuthError("Only API keys are accepted here (no Entra ID tenant is configured).", code="invalid_token")
        self._check_rate(found)
        return found

    def identify(self, credential: str | None) -> Principal:
        """The caller behind a bearer credential without spending its rate budget: an open stream's
        periodic check that the credential still holds is not a request."""
        if not credential:
            raise AuthError("Authentication required.", code="unauthenticated")
        if credential.startswith(api_keys.PREFIX):
            return self._api_key(credential)
        if self._tokens is not None:
            return self._tokens.principal(self._tokens.verify(credential))
        raise AuthError("Only API keys are accepted here (no Entra ID tenant is configured).", code="invalid_token")

    def cached(self, credential: str | None) -> Principal | None:
        """The caller if that needs no I/O at all (a cached key, a per-process rate limit), else None:
        then call :meth:`principal` from a worker thread."""
        if not credential or not credential.startswith(api_keys.PREFIX) or self._cache is None:
            return None
        if self.revocations is None or (self._limiter is not None and not self._limiter.in_memory):
            return None
        epoch = self.revocations.epoch()
        found = self._cache.get(credential, epoch=epoch) if epoch is not None else None
        if found is not None:
            self._check_rate(found)
        return found

    def _api_key(self, credential: str) -> Principal:
        epoch = self.revocations.epoch() if self._cache is not None and self.revocations else None
        if epoch is not None and self._cache is not None:
            cached = self._cache.get(credential, epoch=epoch)
            if cached is not None:
                return cached
        found = service.match_key(self._sessions, credential=credential)
        if found is None:
            raise AuthError("The API key is unknown, revoked or expired.", code="invalid_api_key")
        if epoch is not None and self._cache is not None:
            self._cache.put(credential, found.principal, epoch=epoch, expires_at=found.expires_at)
        return found.principal

    def close(self) -> None:
        """Release the revocation channel's connections."""
        if self.revocations is not None:
            self.revocations.close()

    def _check_rate(self, principal: Principal) -> None:
        if self._limiter is None:
            return
        decision = self._limiter.hit(principal.id)
        if not decision.allowed:
            raise RateLimited(
                f"More than {decision.limit} requests in the current window; slow down.",
                retry_after=decision.retry_after_seconds,
            )
