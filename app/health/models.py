"""The heartbeat table: one row per running worker or scheduler process, refreshed while it lives."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from app.db import Base, UtcDateTime, utcnow


class ProcessHeartbeat(Base):
    """A process's latest sign of life; a row whose ``seen_at`` is stale is a process that died unannounced."""

    __tablename__ = "process_heartbeats"

    id: Mapped[str] = mapped_column(String(200), primary_key=True)  # kind:host:pid:random
    kind: Mapped[str] = mapped_column(String(20), index=True)  # worker | scheduler
    host: Mapped[str] = mapped_column(String(200))
    pid: Mapped[int] = mapped_column(Integer)
    started_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    seen_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    broker: Mapped[str | None] = mapped_column(String(32))  # broker_fingerprint() of the process's broker URL
