"""Service settings, read lazily from the environment (prefix ``REPROTECT_``, nested with ``__``)."""

from __future__ import annotations

from enum import StrEnum
from functools import lru_cache
from pathlib import Path

from pydantic import BaseModel, Field, SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from app.auth.config import AuthConfig

DEFAULT_VAR_DIR = Path("var")


class AzureMode(StrEnum):
    """Where Azure calls go: the local emulator (dev, tests) or real Azure Resource Manager."""

    EMULATOR = "emulator"
    AZURE = "azure"


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
    endpoint: str = "http://127.0.0.1:8900"
    # With mode=azure: "default" (DefaultAzureCredential) or "managed_identity".
    credential: str = "default"
    managed_identity_client_id: str | None = None
    local_token: SecretStr = SecretStr("local-dev-token")
    request_timeout_seconds: float = 30.0
    validation_concurrency: int = 8
    # Vault-level reads (fabrics, mappings, resource groups) are shared for this long.
    cache_ttl_seconds: float = 30.0


class JobSettings(BaseModel):
    """Pacing of the job state machine."""

    poll_interval_seconds: float = 30.0
    min_poll_interval_seconds: float = 1.0
    lease_seconds: float = 120.0
    redispatch_after_seconds: float = 60.0
    deadline_hours: float = 48.0
    transient_backoff_base_seconds: float = 2.0
    transient_backoff_max_seconds: float = 300.0
    # How long a switch protection whose answer never came (timeout, lost connection, killed worker) may
    # still take to land in Azure. Until then the job keeps looking for it and never sends another.
    switch_settle_seconds: float = Field(default=180.0, gt=0)
    max_vms_per_request: int = 100


class ApiSettings(BaseModel):
    """HTTP edge limits."""

    max_body_bytes: int = 256 * 1024
    default_page_size: int = 50
    max_page_size: int = 200
    public_base_url: str | None = None
    # Browser origins allowed to call the API; none by default (CORS closed).
    cors_origins: list[str] = Field(default_factory=list)


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
