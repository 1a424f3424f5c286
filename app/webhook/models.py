"""Tables of the webhook outbox: registered endpoints, events, deliveries and every attempt."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Boolean, Float, ForeignKey, Index, Integer, String, Text, Uuid
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.db import Base, UtcDateTime, new_id, utcnow
from app.sealed.column import SEALED_LENGTH, Sealed


class WebhookEndpoint(Base):
    """A receiver registered through ``POST /webhooks``, with the event types it wants."""

    __tablename__ = "webhook_endpoints"

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=new_id)
    url: Mapped[str] = mapped_column(String(2000))
    description: Mapped[str | None] = mapped_column(String(500))
    event_types: Mapped[list[str]] = mapped_column(JSON, default=list)
    # Secrets sign deliveries, so they are kept (never returned after creation, never logged), sealed at rest
    # and bound to this row (app.sealed): ``secret`` reads and writes the clear value, the column holds it sealed.
    sealed_secret: Mapped[str] = mapped_column("secret", String(SEALED_LENGTH))
    sealed_previous_secret: Mapped[str | None] = mapped_column("previous_secret", String(SEALED_LENGTH))
    secret = Sealed[str]("sealed_secret")
    previous_secret = Sealed[str | None]("sealed_previous_secret")
    previous_secret_expires_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    disabled_reason: Mapped[str | None] = mapped_column(Text)
    # The creator's scopes when it was registered: the endpoint hears only of jobs inside them.
    scopes: Mapped[list[str]] = mapped_column(JSON, default=lambda: ["*"], server_default='["*"]')
    created_by: Mapped[str | None] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow, index=True)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow, onupdate=utcnow)
    deleted_at: Mapped[datetime | None] = mapped_column(UtcDateTime)


class WebhookEvent(Base):
    """One event, written in the transaction of the job transition that caused it; its id is the webhook-id."""

    __tablename__ = "webhook_events"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    type: Mapped[str] = mapped_column(String(60), index=True)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    payload: Mapped[dict[str, Any]] = mapped_column(JSON)
    # About a request's jobs, or (request_id null) about a campaign as a whole (migration 0014).
    request_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("reprotect_requests.id"), index=True)
    campaign_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("campaigns.id"), index=True)
    job_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("jobs.id"), index=True)
    job_attempt: Mapped[int | None] = mapped_column(Integer)


class WebhookDelivery(Base):
    """One event to one receiver (a registered endpoint or the request's callback URL)."""

    __tablename__ = "webhook_deliveries"
    __table_args__ = (
        Index("ix_webhook_deliveries_due", "status", "next_attempt_at"),
        Index("ix_webhook_deliveries_created", "created_at", "id"),
    )

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=new_id)
    event_id: Mapped[str] = mapped_column(ForeignKey("webhook_events.id"), index=True)
    endpoint_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("webhook_endpoints.id"), index=True)
    # Without an endpoint the receiver is the request's callback URL.
    request_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("reprotect_requests.id"), index=True)
    campaign_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("campaigns.id"), index=True)
    job_id: Mapped[uuid.UUID | None] = mapped_column(Uuid, index=True)
    event_type: Mapped[str] = mapped_column(String(60))
    redelivery_of: Mapped[uuid.UUID | None] = mapped_column(Uuid)

    status: Mapped[str] = mapped_column(String(20), default="pending")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    lease_owner: Mapped[str | None] = mapped_column(String(200))
    lease_until: Mapped[datetime | None] = mapped_column(UtcDateTime)
    dispatched_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    unanswered_rings: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    # Tries left to another process that can open the receiver's secret (not attempts: nothing was sent); they
    # grow the backoff all the same (migration 0018).
    skipped_tries: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    last_status_code: Mapped[int | None] = mapped_column(Integer)
    last_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    finished_at: Mapped[datetime | None] = mapped_column(UtcDateTime)

    event: Mapped[WebhookEvent] = relationship()
    endpoint: Mapped[WebhookEndpoint | None] = relationship()
    attempt_log: Mapped[list[WebhookAttempt]] = relationship(
        back_populates="delivery", order_by="WebhookAttempt.id", cascade="all, delete-orphan"
    )


class WebhookAttempt(Base):
    """One HTTP attempt of a delivery: append-only."""

    __tablename__ = "webhook_attempts"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    delivery_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("webhook_deliveries.id"), index=True)
    number: Mapped[int] = mapped_column(Integer)
    at: Mapped[datetime] = mapped_column(UtcDateTime)
    duration_ms: Mapped[float] = mapped_column(Float)
    status_code: Mapped[int | None] = mapped_column(Integer)
    error_code: Mapped[str | None] = mapped_column(String(40))
    error: Mapped[str | None] = mapped_column(Text)
    response_excerpt: Mapped[str] = mapped_column(Text, default="")

    delivery: Mapped[WebhookDelivery] = relationship(back_populates="attempt_log")
