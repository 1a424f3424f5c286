"""Wiring shared by both entrypoints: builds engine, sessions, the Azure adapter and the doorbell once."""

from __future__ import annotations

from dataclasses import dataclass

from celery import Celery
from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from app.cloud.azure_sdk import AzureCloud
from app.cloud.cache import CachedCloud
from app.cloud.types import Cloud
from app.db import build_engine, build_session_factory
from app.queue import Doorbell, build_celery
from app.settings import Settings, get_settings


@dataclass
class Container:
    """Everything a process needs, built once (per API lifespan or per worker process)."""

    settings: Settings
    engine: Engine
    sessions: sessionmaker[Session]
    cloud: Cloud
    celery: Celery
    doorbell: Doorbell

    def close(self) -> None:
        """Release connections."""
        close = getattr(self.cloud, "close", None)
        if callable(close):
            close()
        self.engine.dispose()


def bootstrap(settings: Settings | None = None, *, cloud: Cloud | None = None, azure_retries: int = 0) -> Container:
    """Build the container from ``settings`` (default: the environment); ``cloud`` may be injected."""
    settings = settings or get_settings()
    engine = build_engine(settings.database.url, pool_size=settings.database.pool_size, echo=settings.database.echo)
    celery = build_celery(settings)
    return Container(
        settings=settings,
        engine=engine,
        sessions=build_session_factory(engine),
        cloud=cloud or _azure(settings, azure_retries),
        celery=celery,
        doorbell=Doorbell(celery),
    )


def _azure(settings: Settings, retries: int) -> Cloud:
    inner = AzureCloud(settings.azure, retry_total=retries)
    return CachedCloud(inner, ttl_seconds=settings.azure.cache_ttl_seconds)
