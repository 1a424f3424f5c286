"""Settings for authentication and rate limiting; nested into the service settings as ``Settings.auth``."""

from __future__ import annotations

from typing import Self

from limits import parse as parse_limit
from pydantic import BaseModel, Field, field_validator, model_validator

from app.auth.principal import Role
from app.auth.scopes import parse_scope

# Asymmetric only: a symmetric algorithm would let anyone holding the (public) JWKS forge tokens.
ASYMMETRIC_ALGORITHMS = frozenset(
    {"RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA"}
)


def _default_role_claims() -> dict[str, Role]:
    return {"Reprotect.Reader": Role.READER, "Reprotect.Operator": Role.OPERATOR, "Reprotect.Admin": Role.ADMIN}


class EntraConfig(BaseModel):
    """Microsoft Entra ID bearer tokens. ``tenant_id`` None disables token authentication."""

    tenant_id: str | None = None
    # Accepted ``aud`` values: the API's application id URI and/or client id. Required with a tenant.
    audiences: list[str] = Field(default_factory=list)
    # None: the tenant's v1 and v2 issuers.
    issuers: list[str] | None = None
    # None: the tenant's public v2 keys. Must be https, except on a loopback host (tests, local stubs).
    jwks_url: str | None = None
    algorithms: list[str] = Field(default_factory=lambda: ["RS256"])
    leeway_seconds: float = Field(default=60.0, ge=0)
    jwks_cache_seconds: float = Field(default=3600.0, gt=0)
    # An unknown ``kid`` triggers a refresh at most this often, so tokens cannot make us fetch in a loop.
    jwks_min_refresh_seconds: float = Field(default=60.0, ge=0)
    jwks_timeout_seconds: float = Field(default=5.0, gt=0)
    # App role value (``roles`` claim) -> service role; the highest one wins.
    role_claims: dict[str, Role] = Field(default_factory=_default_role_claims)
    # Object id, group id or app role value -> scopes; a principal gets the union of every match.
    principal_scopes: dict[str, list[str]] = Field(default_factory=dict)

    @property
    def enabled(self) -> bool:
        """Whether bearer tokens are accepted at all."""
        return self.tenant_id is not None

    @property
    def effective_issuers(self) -> list[str]:
        """The configured issuers, or the tenant's v1 and v2 issuers."""
        if self.issuers is not None:
            return self.issuers
        return [
            f"https://sts.windows.net/{self.tenant_id}/",
            f"https://login.microsoftonline.com/{self.tenant_id}/v2.0",
        ]

    @property
    def effective_jwks_url(self) -> str:
        """The configured JWKS address, or the tenant's v2 discovery keys."""
        return self.jwks_url or f"https://login.microsoftonline.com/{self.tenant_id}/discovery/v2.0/keys"

    @field_validator("algorithms")
    @classmethod
    def _asymmetric_only(cls, algorithms: list[str]) -> list[str]:
        refused = [a for a in algorithms if a not in ASYMMETRIC_ALGORITHMS]
        if refused or not algorithms:
            raise ValueError(f"algorithms must be a non-empty subset of {sorted(ASYMMETRIC_ALGORITHMS)}")
        return algorithms

    @field_validator("principal_scopes")
    @classmethod
    def _scopes_parse(cls, mapping: dict[str, list[str]]) -> dict[str, list[str]]:
        for texts in mapping.values():
            for text in texts:
                parse_scope(text)  # ValueError names the bad scope
        return mapping

    @model_validator(mode="after")
    def _audience_with_tenant(self) -> Self:
        # Without an audience check any token of the tenant, for any app, would be accepted.
        if self.tenant_id is not None and not self.audiences:
            raise ValueError("entra.audiences is required when entra.tenant_id is set")
        return self


class RateLimitConfig(BaseModel):
    """Per-principal request limit, shared across API processes when the storage is Redis."""

    enabled: bool = True
    # A ``limits`` string: "600/minute", "10/second", "1000 per hour".
    limit: str = "600/minute"
    # "memory://" counts per process; "redis://host:6379/0" shares the count across processes.
    storage_uri: str = "memory://"
    # Socket timeouts for Redis, kept short: the limiter fails open rather than slow every request.
    storage_timeout_seconds: float = Field(default=0.5, gt=0)
    # After a storage error, requests pass without asking the storage for this long.
    fail_open_seconds: float = Field(default=30.0, ge=0)

    @field_validator("limit")
    @classmethod
    def _limit_parses(cls, limit: str) -> str:
        if parse_limit(limit).amount < 1:  # parse_limit raises ValueError for nonsense
            raise ValueError("the rate limit must allow at least one request")
        return limit


class AuthConfig(BaseModel):
    """Authentication and rate limiting."""

    entra: EntraConfig = Field(default_factory=EntraConfig)
    rate_limit: RateLimitConfig = Field(default_factory=RateLimitConfig)
