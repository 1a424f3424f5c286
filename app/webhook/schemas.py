"""API shapes of ``/webhooks`` and ``/webhook-deliveries``."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, StrictBool

from app.webhook.events import DEFAULT_EVENT_TYPES, EventType

DeliveryStatus = Literal["pending", "delivered", "failed", "cancelled"]
MAX_GRACE_SECONDS = 7 * 24 * 3600


def _json_integer(value: object) -> object:
    """What JSON Schema calls an integer: a number without a fraction; never a boolean or a string."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValueError("Input should be an integer")
    return value


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class WebhookIn(_Strict):
    """Body of ``POST /webhooks``: where to send which events."""

    url: str = Field(min_length=8, max_length=2000, description="https URL of the receiver")
    event_types: list[EventType] = Field(default_factory=lambda: list(DEFAULT_EVENT_TYPES), min_length=1)
    description: str | None = Field(default=None, max_length=500)


class WebhookPatch(_Strict):
    """Body of ``PATCH /webhooks/{id}``: only the fields given change."""

    url: str | None = Field(default=None, min_length=8, max_length=2000)
    event_types: list[EventType] | None = Field(default=None, min_length=1)
    description: str | None = Field(default=None, max_length=500)
    enabled: StrictBool | None = Field(default=None, description="true re-enables an endpoint disabled by 410 Gone")


class RotateSecretIn(_Strict):
    """Body of ``POST /webhooks/{id}/rotate-secret``."""

    grace_seconds: Annotated[int, Field(ge=0, le=MAX_GRACE_SECONDS), BeforeValidator(_json_integer)] | None = Field(
        default=None, description="How long the old secret keeps signing too"
    )


class WebhookOut(BaseModel):
    """A registered endpoint; its secret is never shown again after creation."""

    model_config = ConfigDict(from_attributes=True)  # read straight from the row

    id: uuid.UUID
    url: str
    event_types: list[str]
    description: str | None
    enabled: bool
    disabled_reason: str | None
    created_at: datetime
    updated_at: datetime
    previous_secret_expires_at: datetime | None = Field(
        description="Until when the secret before the last rotation still signs deliveries"
    )


class WebhookCreated(WebhookOut):
    """The endpoint as created, with its signing secret: shown this once."""

    secret: str = Field(description="whsec_… signing secret; store it now, it is never shown again")


class SecretRotated(BaseModel):
    """The new signing secret (shown this once) and until when the old one keeps signing too."""

    id: uuid.UUID
    secret: str
    previous_secret_expires_at: datetime | None


class WebhookPage(BaseModel):
    """A page of endpoints, newest first."""

    items: list[WebhookOut]
    next_cursor: str | None


class AttemptOut(BaseModel):
    """One HTTP attempt."""

    model_config = ConfigDict(from_attributes=True)  # read straight from the row

    number: int
    at: datetime
    duration_ms: float
    status_code: int | None
    error_code: str | None
    error: str | None
    response_excerpt: str


class DeliveryOut(BaseModel):
    """One event to one receiver, with every attempt."""

    model_config = ConfigDict(from_attributes=True)  # read straight from the row

    id: uuid.UUID
    event_id: str = Field(description="The webhook-id header: the same on every attempt and redelivery")
    event_type: str
    endpoint_id: uuid.UUID | None = Field(description="None when the receiver is the request's callback_url")
    request_id: uuid.UUID | None = Field(description="The request whose jobs the event is about; None for a campaign's")
    campaign_id: uuid.UUID | None = Field(description="The campaign a campaign event is about")
    job_id: uuid.UUID | None
    status: DeliveryStatus
    attempts: int
    next_attempt_at: datetime | None
    last_status_code: int | None
    last_error: str | None
    created_at: datetime
    finished_at: datetime | None
    redelivery_of: uuid.UUID | None
    attempt_log: list[AttemptOut]


class DeliveryPage(BaseModel):
    """A page of deliveries, newest first."""

    items: list[DeliveryOut]
    next_cursor: str | None
