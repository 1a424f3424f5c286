"""Alembic environment: runs migrations against the configured database (or a URL given by the caller)."""

from __future__ import annotations

from alembic import context
from sqlalchemy import Connection, text

from app.auth import models as auth_models  # noqa: F401
from app.campaign import models as campaign_models  # noqa: F401
from app.db import Base, build_engine
from app.health import models as health_models  # noqa: F401
from app.idempotency import models as idempotency_models  # noqa: F401
from app.job import models as job_models  # noqa: F401 - registers the tables on Base.metadata
from app.settings import get_settings
from app.webhook import models as webhook_models  # noqa: F401

target_metadata = Base.metadata


# pg_advisory_xact_lock key of migrations: any constant the application uses for nothing else.
MIGRATION_LOCK_KEY = 0x7265_7072_6F74  # "reprot"


def take_migration_lock(connection: Connection) -> None:
    """On Postgres, wait for any other ``migrate`` to commit before reading the schema's version: two at once
    (per-replica init containers) run one after the other, and the second finds nothing left to do. The lock
    is the transaction's (Alembic runs every migration in one), released by the commit or a crash."""
    if connection.dialect.name == "postgresql":
        connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": MIGRATION_LOCK_KEY})


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
            take_migration_lock(connection)
            context.run_migrations()
    engine.dispose()


run_migrations()
