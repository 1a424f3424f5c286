"""Alembic environment: runs migrations against the configured database (or a URL given by the caller)."""

from __future__ import annotations

from alembic import context

from app.auth import models as auth_models  # noqa: F401
from app.db import Base, build_engine
from app.health import models as health_models  # noqa: F401
from app.idempotency import models as idempotency_models  # noqa: F401
from app.job import models as job_models  # noqa: F401 - registers the tables on Base.metadata
from app.settings import get_settings
from app.webhook import models as webhook_models  # noqa: F401

target_metadata = Base.metadata


def run_migrations() -> None:
    """Migrate the database named by ``sqlalchemy.url`` (set by callers) or by the settings."""
    url = context.config.get_main_option("sqlalchemy.url") or get_settings().database.url
    if context.is_offline_mode():
        context.configure(url=url, target_metadata=target_metadata, literal_binds=True, render_as_batch=True)
        with context.begin_transaction():
            context.run_migrations()
        return
    engine = build_engine(url)
    with engine.connect() as connection:
        context.configure(connection=connection, target_metadata=target_metadata, render_as_batch=True)
        with context.begin_transaction():
            context.run_migrations()
    engine.dispose()


run_migrations()
