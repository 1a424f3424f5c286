"""Service settings, read lazily from the environment (prefix ``REPROTECT_``, nested with ``__``)."""

from __future__ import annotations

import ipaddress
import tempfile
from enum import StrEnum
from functools import lru_cache
from pathlib import Path
from typing import Literal, Self
from urllib.parse import urlsplit

from limits import parse as parse_limit
from pydantic import BaseModel, Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict

from app.scopes import parse_scope
from app.settings_files import FileSettingsSource

DEFAULT_VAR_DIR = Path("var")


class AzureMode(StrEnum):
    """Where Azure calls go: the local emulator (dev, tests) or real Azure Resource Manager."""

    EMULATOR = "emulator"
    AZURE = "azure"


class AzureCloudName(StrEnum):
    """Which Azure cloud (``REPROTECT_AZURE__CLOUD``): its ARM endpoint, token scope and sign-in authority."""

    PUBLIC = "public"
    CHINA = "china"
    US_GOVERNMENT = "usgovernment"


class DatabaseSettings(BaseModel):
    """The job database; SQLite file by default, Postgres in production."""

    url: str = f"sqlite:///{DEFAULT_VAR_DIR}/reprotect.sqlite3"
    pool_size: int = 10
    echo: bool = False


class BrokerSettings(BaseModel):
    """The Celery broker (the doorbell); kombu's SQLAlchemy transport on SQLite by default."""

    url: str = f"sqla+sqlite:///{DEFAULT_VAR_DIR}/broker.sqlite3"
    sweep_interval_seconds: float = 2.0
    beat_schedule_path: str = str(DEFAULT_VAR_DIR / "celerybeat-schedule")


class AzureSettings(BaseModel):
    """How to reach Azure: the emulator's address with a local token, or ARM with Entra ID credentials."""

    mode: AzureMode = AzureMode.EMULATOR
    endpoint: str = "http://127.0.0.1:8900"  # the emulator's address (mode=emulator only)
    cloud: AzureCloudName = AzureCloudName.PUBLIC
    # With mode=azure: "default" (DefaultAzureCredential) or "managed_identity".
    credential: str = "default"
    managed_identity_client_id: str | None = None
    local_token: SecretStr = SecretStr("local-dev-token")
    request_timeout_seconds: float = 30.0
    validation_concurrency: int = 8
    # Vault-level reads (fabrics, mappings, resource groups) are shared for this long.
    cache_ttl_seconds: float = 30.0
    # Whole-list reads (a vault's items and ASR jobs, a subscription's VMs and Resource Health statuses) are
    # shared by every check and poll for this long (``app.cloud.snapshots``); 0 reads per item instead.
    snapshot_ttl_seconds: float = Field(default=30.0, ge=0)
    # The share of a subscription's ARM read budget the service may use (``app.cloud.budget``), and ARM's
    # documented bucket (250 reads, refilled at 25 per second) it is a share of.
    read_budget_share: float = Field(default=0.5, gt=0, le=1)
    read_budget_burst: float = Field(default=250.0, gt=0)
    read_budget_per_second: float = Field(default=25.0, gt=0)


class JobSettings(BaseModel):
    """Pacing of the job state machine."""

    poll_interval_seconds: float = 30.0
    min_poll_interval_seconds: float = 1.0
    # An in-flight ASR job is looked at again after half its expected remaining time, within
    # [poll_interval_seconds, max_poll_interval_seconds] (``app.job.eta.next_poll_seconds``).
    max_poll_interval_seconds: float = Field(default=300.0, gt=0)
    lease_seconds: float = 120.0
    redispatch_after_seconds: float = 60.0
    deadline_hours: float = 48.0
    transient_backoff_base_seconds: float = 2.0
    transient_backoff_max_seconds: float = 300.0
    # How long a switch protection whose answer never came (timeout, lost connection, killed worker) may
    # still take to land in Azure. Until then the job keeps looking for it and never sends another.
    switch_settle_seconds: float = Field(default=180.0, gt=0)


class ApiSettings(BaseModel):
    """HTTP edge limits."""

    max_body_bytes: int = 256 * 1024
    # Browser origins allowed to call the API; none by default (CORS closed).
    cors_origins: list[str] = Field(default_factory=list)
    # Where clients reach the API (e.g. https://reprotect.example.com): the OpenAPI document's server and the
    # base of the links in webhook payloads, which are absolute once this is set (paths relative to it if not).
    public_base_url: str | None = Field(default=None, pattern=r"^https?://[^\s/?#]+(/[^\s?#]*)?$")
    # Proxies (ingress controllers, load balancers) whose X-Forwarded-For/-Proto uvicorn trusts, comma-separated
    # addresses or networks, "*" for any: the client address the per-address refusal limit counts by.
    forwarded_allow_ips: str = "127.0.0.1"


class WebhookSettings(BaseModel):
    """Outgoing webhooks: who may be called, how long to keep trying, how to sign."""

    # https only unless this is set (development receivers on plain http).
    allow_http: bool = False
    # CIDRs of legitimate internal receivers exempted from the SSRF refusal (never the metadata addresses).
    allowed_networks: list[str] = Field(default_factory=list)
    timeout_seconds: float = 10.0
    connect_timeout_seconds: float = 3.0
    # Failed deliveries are retried with exponential backoff and jitter for this long (about a day).
    retry_window_seconds: float = 26 * 3600.0
    backoff_base_seconds: float = 5.0
    backoff_max_seconds: float = 3600.0
    # After a secret rotation the old secret also signs deliveries for this long (default, per call).
    rotation_grace_seconds: float = 24 * 3600.0
    lease_seconds: float = 60.0
    max_response_excerpt: int = 1024
    max_endpoints: int = 100


def https_or_loopback(url: str, *, base_address: bool = True) -> bool:
    """Whether ``url`` is https to some host, or plain http to a loopback host (tests, local stubs); with
    ``base_address`` also with no query, fragment or user info (an address that paths are appended to)."""
    parts = urlsplit(url)
    if not parts.hostname:
        return False
    if base_address and (parts.query or parts.fragment or "@" in parts.netloc):
        return False
    return parts.scheme == "https" or (parts.scheme == "http" and is_loopback(parts.hostname))


def is_loopback(host: str | None) -> bool:
    """``localhost`` or a loopback address."""
    if host == "localhost":
        return True
    try:
        return host is not None and ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


# Asymmetric only: a symmetric algorithm would let anyone holding the (public) JWKS forge tokens.
ASYMMETRIC_ALGORITHMS = frozenset(
    {"RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA"}
)


# The public cloud's sign-in origin: the default authority, issuers and keys of Entra ID tokens are on it.
PUBLIC_CLOUD_SIGN_IN_ORIGIN = "https://login.microsoftonline.com"


def _on_public_cloud(url: str) -> bool:
    """Whether ``url`` is on the public cloud's sign-in host (any letter case, default port)."""
    parts, public = urlsplit(url), urlsplit(PUBLIC_CLOUD_SIGN_IN_ORIGIN)
    return parts.scheme.lower() == "https" and parts.hostname == public.hostname and parts.port in (None, 443)


# The service's roles by name (``app.auth.principal.Role`` holds the same values; a test keeps them equal).
RoleName = Literal["reader", "operator", "admin"]


def _default_role_claims() -> dict[str, RoleName]:
    return {"Reprotect.Reader": "reader", "Reprotect.Operator": "operator", "Reprotect.Admin": "admin"}


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
    role_claims: dict[str, RoleName] = Field(default_factory=_default_role_claims)
    # Object id, group id or app role value -> scopes; a principal gets the union of every match.
    principal_scopes: dict[str, list[str]] = Field(default_factory=dict)
    # The console's "Sign in with Microsoft Entra ID" (authorization code flow with PKCE, app/console/static/js/
    # entra.js): the client id of the console's own app registration (a single-page application whose redirect
    # URI is https://<api>/console/). None: the console offers API keys only.
    console_client_id: str | None = None
    # What the console asks a token for (required with the client id): this API's ``api://<app id>/.default``
    # or a named delegated scope such as ``api://<app id>/access``.
    console_scope: str | None = None
    # Where the console signs in; None: https://login.microsoftonline.com/<tenant_id>. Must be https, except on
    # a loopback host (tests, local stubs). Its origin is the only other one the console may connect to (CSP).
    # On another host (a sovereign cloud) ``issuers`` and ``jwks_url`` must be set too: see _authority_cloud_complete.
    authority: str | None = None

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
            f"{PUBLIC_CLOUD_SIGN_IN_ORIGIN}/{self.tenant_id}/v2.0",
        ]

    @property
    def console_sign_in(self) -> bool:
        """Whether the console offers Entra ID sign-in."""
        return self.console_client_id is not None

    @property
    def effective_authority(self) -> str:
        """The configured authority, or the tenant's on the public cloud's sign-in host (no trailing slash)."""
        return (self.authority or f"{PUBLIC_CLOUD_SIGN_IN_ORIGIN}/{self.tenant_id}").rstrip("/")

    @property
    def authority_origin(self) -> str:
        """``scheme://host[:port]`` of the authority: what the console's CSP lets it connect to."""
        parts = urlsplit(self.effective_authority)
        return f"{parts.scheme}://{parts.netloc}"

    @property
    def effective_jwks_url(self) -> str:
        """The configured JWKS address, or the tenant's v2 discovery keys."""
        return self.jwks_url or f"{PUBLIC_CLOUD_SIGN_IN_ORIGIN}/{self.tenant_id}/discovery/v2.0/keys"

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

    @field_validator("authority")
    @classmethod
    def _authority_is_https(cls, authority: str | None) -> str | None:
        if authority is not None and not https_or_loopback(authority):
            raise ValueError(f"entra.authority must be https (plain http only to a loopback host): {authority!r}")
        return authority

    @field_validator("console_client_id", "console_scope")
    @classmethod
    def _one_plain_word(cls, value: str | None) -> str | None:
        # Both go into the authorize address and the token request: no blanks, spaces or control characters.
        if value is not None and (not value or any(c.isspace() or not c.isprintable() for c in value)):
            raise ValueError(f"must be one word without spaces: {value!r}")
        return value

    @model_validator(mode="after")
    def _audience_with_tenant(self) -> Self:
        # Without an audience check any token of the tenant, for any app, would be accepted.
        if self.tenant_id is not None and not self.audiences:
            raise ValueError("entra.audiences is required when entra.tenant_id is set")
        return self

    @model_validator(mode="after")
    def _authority_cloud_complete(self) -> Self:
        # The default issuers and keys are the public cloud's, and they cannot be derived from another authority
        # reliably: the v1 issuer's host (sts.windows.net, sts.chinacloudapi.cn, ...) differs per cloud, and the
        # authority's path may name the tenant by domain while tokens name it by id. Defaulting would give a
        # sign-in button whose tokens the API refuses, so an operator states them.
        missing = [name for name in ("issuers", "jwks_url") if getattr(self, name) is None]
        if self.authority is not None and not _on_public_cloud(self.authority) and missing:
            raise ValueError(
                f"entra.authority {self.authority!r} is not on the public cloud ({PUBLIC_CLOUD_SIGN_IN_ORIGIN}), "
                f"whose issuers and keys are the defaults: set entra.{' and entra.'.join(missing)} for its cloud too "
                '(v2.0 tokens: issuers ["<authority>/v2.0"], jwks_url "<authority>/discovery/v2.0/keys"; '
                "v1.0 tokens: that cloud's https://sts.<host>/<tenant_id>/ issuer)"
            )
        return self

    @model_validator(mode="after")
    def _console_sign_in_complete(self) -> Self:
        # A sign-in button whose tokens the API then refuses, or that asks for no scope, is a trap for operators.
        if self.console_client_id is not None and self.tenant_id is None:
            raise ValueError("entra.console_client_id needs entra.tenant_id (the API must accept the tokens)")
        if self.console_client_id is not None and self.console_scope is None:
            raise ValueError("entra.console_scope is required when entra.console_client_id is set")
        if self.console_scope is not None and self.console_client_id is None:
            raise ValueError("entra.console_scope is set but entra.console_client_id is not")
        return self


class RateLimitConfig(BaseModel):
    """Per-principal request limit, shared across API processes when the storage is Redis."""

    enabled: bool = True
    # A ``limits`` string: "600/minute", "10/second", "1000 per hour".
    limit: str = "600/minute"
    # Refused credentials (none, unknown, revoked, expired) per client address: over it, each further refusal
    # from that address is a 429 with Retry-After instead of a 401 (good credentials still pass).
    unauthenticated_limit: str = "60/minute"
    # "memory://" counts per process; "redis://host:6379/0" shares the count across processes.
    storage_uri: str = "memory://"
    # Socket timeouts for Redis, kept short: the limiter fails open rather than slow every request.
    storage_timeout_seconds: float = Field(default=0.5, gt=0)
    # After a storage error, requests pass without asking the storage for this long.
    fail_open_seconds: float = Field(default=30.0, ge=0)

    @field_validator("limit", "unauthenticated_limit")
    @classmethod
    def _limit_parses(cls, limit: str) -> str:
        if parse_limit(limit).amount < 1:  # parse_limit raises ValueError for nonsense
            raise ValueError("the rate limit must allow at least one request")
        return limit


class AuthConfig(BaseModel):
    """Authentication and rate limiting."""

    entra: EntraConfig = Field(default_factory=EntraConfig)
    rate_limit: RateLimitConfig = Field(default_factory=RateLimitConfig)
    # API key lookups are cached in each API process this long, only when revocations can be heard across
    # processes: a Redis URL here (else the rate limit's Redis, if any). Without Redis every call reads the key.
    key_cache_seconds: float = Field(default=5.0, ge=0, le=60)
    revocation_redis_url: str | None = None

    @property
    def effective_revocation_url(self) -> str | None:
        """Where revocations are announced: the configured URL, else the rate limit's Redis, else none."""
        if self.revocation_redis_url:
            return self.revocation_redis_url
        uri = self.rate_limit.storage_uri
        return uri if uri.startswith(("redis://", "rediss://")) else None


class EventSettings(BaseModel):
    """The job event stream (``GET /events/jobs``): one poller per API process fans changes out."""

    # How often the process's one poller reads new transitions (a PK range scan).
    poll_interval_seconds: float = Field(default=0.25, gt=0)
    poll_page_size: int = Field(default=1000, ge=1)
    # A comment line on every idle stream this often, so proxies and clients know it is alive.
    heartbeat_seconds: float = Field(default=15.0, gt=0)
    # Events a subscriber may have waiting; past it the stream ends and the client resumes from its last id.
    subscriber_queue_size: int = Field(default=1000, ge=1)
    # A resume may replay at most this many transitions (of every job, before filtering).
    max_replay_events: int = Field(default=20000, ge=0)
    # A missing transition id (a transaction that has not committed yet) holds later ids back this long.
    gap_grace_seconds: float = Field(default=2.0, ge=0)
    # A stream ends (``event: resume``) after this long; the client reconnects with Last-Event-ID, which
    # spreads long-lived subscribers over API processes added since (0: never).
    max_stream_seconds: float = Field(default=1800.0, ge=0)
    # An open stream checks its caller's credential again this often: a revoked key, an expired token or
    # narrowed scopes end it (``credentials_changed``). A revocation heard over Redis checks every stream at once;
    # this is the fallback without Redis (and for expiring tokens).
    recheck_seconds: float = Field(default=60.0, gt=0)
    # Open streams one caller may hold (then 429 too_many_streams), and one API process serves (then 503).
    max_streams_per_principal: int = Field(default=20, ge=1)
    max_streams_per_process: int = Field(default=2000, ge=1)


class FleetSettings(BaseModel):
    """The inventory (``GET /vms``) and selector-based reprotect: which vaults to watch, how fresh."""

    # Vaults watched by ARM id; with ``discover_in_subscriptions``, every Recovery Services vault found there too.
    vault_ids: list[str] = Field(default_factory=list)
    discover_in_subscriptions: list[str] = Field(default_factory=list)
    # A vault's item list is read again once older than this (in the background while a copy is served).
    snapshot_ttl_seconds: float = Field(default=60.0, gt=0)
    # A copy older than this is never served: callers wait for a fresh read instead.
    snapshot_max_age_seconds: float = Field(default=600.0, gt=0)
    # The most VMs one selector may resolve to (each 100 become one request).
    max_selector_vms: int = Field(default=5000, ge=1)
    # How long the decided inventory (items joined with our jobs and their statuses) serves every caller
    # before it is decided again (app.fleet.decided): the inventory's job columns are this much behind at most.
    view_ttl_seconds: float = Field(default=2.0, ge=0)
    # Past ``view_ttl_seconds`` the kept inventory is still served while one background decision renews it;
    # one older than this (never less than the TTL) is not: callers wait for a fresh one.
    view_max_age_seconds: float = Field(default=10.0, gt=0)


class LogSettings(BaseModel):
    """Log lines of every process (API, worker, scheduler): one JSON schema, or text for people (``app.logs``)."""

    # json: one object per line (production); text: one readable line (``reprotect dev``/``demo`` set it).
    format: Literal["text", "json"] = "json"
    level: str = "INFO"
    # The Azure SDK's HTTP lines (every request and response) and azure.identity: WARNING unless asked.
    azure_level: str = "WARNING"

    @field_validator("level", "azure_level")
    @classmethod
    def _known_level(cls, level: str) -> str:
        upper = level.upper()
        if upper not in ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"):
            raise ValueError("a log level: DEBUG, INFO, WARNING, ERROR or CRITICAL")
        return upper


class HealthSettings(BaseModel):
    """Heartbeats of workers and the scheduler (``app.health``), read by ``/status``."""

    heartbeat_seconds: float = Field(default=10.0, gt=0)
    # A process whose last heartbeat is older than this counts as gone (a few missed beats).
    stale_after_seconds: float = Field(default=35.0, gt=0)
    # Where each worker and scheduler also touches a file at every beat, for its container's liveness check
    # (``cli.healthcheck``), which must not depend on the database. Empty: the system's temporary directory.
    beat_dir: str = ""

    @property
    def beat_directory(self) -> Path:
        """Where the beat files are: ``beat_dir``, else the system's temporary directory."""
        return Path(self.beat_dir or tempfile.gettempdir())

    def beat_file(self, kind: str, pid: int) -> Path:
        """The file a ``kind`` process (worker, scheduler) touches at every beat."""
        return self.beat_directory / f"reprotect-{kind}-{pid}.beat"

    def beat_files(self, kind: str) -> list[Path]:
        """Every ``kind`` process's beat file in this container (those of processes gone too)."""
        return sorted(self.beat_directory.glob(f"reprotect-{kind}-*.beat"))


class MetricsSettings(BaseModel):
    """``GET /metrics`` (``app.metrics``): on, and for callers with a reader key of unrestricted scope."""

    enabled: bool = True
    # True: no credentials asked (for a scrape network no one else reaches). The figures are fleet-wide.
    public: bool = False


class SecretsSettings(BaseModel):
    """Key-encryption keys of the secrets the service keeps in its database (webhook signing secrets).

    ``keys``: ``name:base64-of-32-bytes`` pairs separated by commas or blanks. The first key encrypts, every
    key decrypts: to rotate, add a new key last, then move it first, run ``reprotect secrets rotate``, then
    drop the old one, rolling every process after each change (docs/deployment.md, "Key rotation").
    Required in production; elsewhere a key generated once into ``local_key_path`` is used.
    """

    keys: SecretStr | None = None
    local_key_path: str = str(DEFAULT_VAR_DIR / "local-secrets.key")


class Settings(BaseSettings):
    """All settings; built once per process by :func:`get_settings`."""

    model_config = SettingsConfigDict(env_prefix="REPROTECT_", env_nested_delimiter="__", extra="ignore")

    database: DatabaseSettings = Field(default_factory=DatabaseSettings)
    broker: BrokerSettings = Field(default_factory=BrokerSettings)
    azure: AzureSettings = Field(default_factory=AzureSettings)
    job: JobSettings = Field(default_factory=JobSettings)
    api: ApiSettings = Field(default_factory=ApiSettings)
    webhook: WebhookSettings = Field(default_factory=WebhookSettings)
    auth: AuthConfig = Field(default_factory=AuthConfig)
    events: EventSettings = Field(default_factory=EventSettings)
    fleet: FleetSettings = Field(default_factory=FleetSettings)
    log: LogSettings = Field(default_factory=LogSettings)
    health: HealthSettings = Field(default_factory=HealthSettings)
    metrics: MetricsSettings = Field(default_factory=MetricsSettings)
    secrets: SecretsSettings = Field(default_factory=SecretsSettings)

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        """Arguments, then variables, then ``REPROTECT_*_FILE`` files and the secrets directory."""
        files = FileSettingsSource(settings_cls)
        return init_settings, env_settings, files, dotenv_settings, file_secret_settings

    @model_validator(mode="after")
    def _settle_outlasts_a_request(self) -> Settings:
        if self.job.switch_settle_seconds <= self.azure.request_timeout_seconds:
            raise ValueError(
                "job.switch_settle_seconds must be longer than azure.request_timeout_seconds: an unanswered "
                "switch protection is only presumed lost after the call itself has timed out"
            )
        return self


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process's settings, read from the environment on first use."""
    return Settings()
