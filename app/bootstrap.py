"""The composition root shared by every entrypoint: builds engine, sessions, the Azure adapter and the
doorbell once, and wires the domains to each other (a job's transitions reach the webhook outbox)."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from celery import Celery
from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from app.auth.authenticator import Authenticator
from app.cloud.azure_sdk import AzureCloud
from app.cloud.cache import CachedCloud
from app.cloud.identity import IdentityCheck
from app.cloud.snapshots import Snapshots
from app.cloud.types import Cloud
from app.db import build_engine, build_session_factory
from app.job import counts, history
from app.logs import job_lines
from app.metrics import transitions as transition_metrics
from app.outbound.transport import WebhookSender
from app.outbound.vetting import url_policy
from app.queue import Doorbell, build_celery
from app.sealed import keyring as sealed_keyring
from app.settings import Settings, WebhookSettings, get_settings
from app.webhook import outbox


@dataclass
class Container:
    """Everything a process needs, built once (per API lifespan or per worker process)."""

    settings: Settings
    engine: Engine
    sessions: sessionmaker[Session]
    cloud: Cloud
    celery: Celery
    doorbell: Doorbell
    sender: WebhookSender
    auth: Authenticator
    identity: IdentityCheck | None = None  # the Azure identity probe of /readyz (None: not checked)

    def close(self) -> None:
        """Release connections."""
        close = getattr(self.cloud, "close", None)
        if callable(close):
            close()
        self.sender.close()
        self.auth.close()
        self.engine.dispose()


def bootstrap(settings: Settings | None = None, *, cloud: Cloud | None = None, azure_retries: int = 0) -> Container:
    """Build the container from ``settings`` (default: the environment); ``cloud`` may be injected."""
    settings = settings or get_settings()
    sealed_keyring.install(settings.secrets)  # the key stored secrets are sealed and opened with
    engine = build_engine(settings.database.url, pool_size=settings.database.pool_size, echo=settings.database.echo)
    celery = build_celery(settings)
    doorbell = Doorbell(celery)
    sessions = wired_sessions(engine, ring_deliveries=doorbell.ring_deliveries)
    return Container(
        settings=settings,
        engine=engine,
        sessions=sessions,
        cloud=cloud or _azure(settings, azure_retries),
        celery=celery,
        doorbell=doorbell,
        sender=build_sender(settings.webhook),
        auth=Authenticator(settings.auth, sessions),
        identity=IdentityCheck.for_settings(settings.azure),
    )


def wired_sessions(
    engine: Engine, *, ring_deliveries: Callable[[Iterable[Any]], object] | None = None
) -> sessionmaker[Session]:
    """Sessions on ``engine`` with the domains wired: every job transition writes its webhook events in the
    same transaction, and new deliveries are rung for after each commit (when a doorbell is given)."""
    sessions = build_session_factory(engine)
    history.listen(sessions, outbox.on_transition)
    history.listen(sessions, counts.on_transition)
    job_lines.install(sessions)  # one log line per transition, after its commit
    transition_metrics.install(sessions)  # transitions and time per state, counted after commit
    if ring_deliveries is not None:
        outbox.install_doorbell(sessions, ring_deliveries)
    return sessions


def build_sender(settings: WebhookSettings) -> WebhookSender:
    """The webhook sender the settings describe (SSRF policy, timeouts)."""
    return WebhookSender(
        url_policy(settings),
        timeout_seconds=settings.timeout_seconds,
        connect_timeout_seconds=settings.connect_timeout_seconds,
        max_excerpt=settings.max_response_excerpt,
    )


def _azure(settings: Settings, retries: int) -> Cloud:
    inner = AzureCloud(settings.azure, retry_total=retries)
    ttl = settings.azure.snapshot_ttl_seconds
    snapshots = Snapshots(ttl) if ttl > 0 else None  # shared list reads for checks and polls
    return CachedCloud(inner, ttl_seconds=settings.azure.cache_ttl_seconds, snapshots=snapshots)
