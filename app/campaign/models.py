"""Tables of the campaign domain: a campaign, its ordered steps (a phase, or one wave of the failover, each
with the gate that follows it) and its VMs.

A step's jobs are ordinary jobs of the step's kind (``app.job``); the step keeps, per VM, the id of its latest
job (a retried refusal gets a new one), the VMs it skipped and the VMs Azure refused, in Azure's words.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Boolean, ForeignKey, Index, Integer, String, Text, Uuid, text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.db import Base, UtcDateTime, new_id, utcnow


class Campaign(Base):
    """One way home for a set of VMs: where it stands and what it was asked to do."""

    __tablename__ = "campaigns"

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=new_id)
    version: Mapped[int] = mapped_column(Integer, default=1)
    name: Mapped[str] = mapped_column(String(200))
    # running | paused | waiting_gate | stopped | aborting | completed | aborted (app.campaign.states)
    state: Mapped[str] = mapped_column(String(20), index=True)
    step_index: Mapped[int] = mapped_column(Integer, default=0)
    options: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    stop_reason: Mapped[str | None] = mapped_column(Text)
    # Why the sweep could not move it at its last try (Azure throttled or refused the step's checks), until it can.
    blocked_reason: Mapped[str | None] = mapped_column(Text)
    history: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)  # app.campaign.history
    # Every vault of its VMs: who may see the campaign (all of them in the caller's scopes).
    vault_ids: Mapped[list[str]] = mapped_column(JSON, default=list)
    created_by: Mapped[str | None] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow, index=True)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow, onupdate=utcnow)
    next_due_at: Mapped[datetime | None] = mapped_column(UtcDateTime, index=True)
    finished_at: Mapped[datetime | None] = mapped_column(UtcDateTime)

    steps: Mapped[list[CampaignStep]] = relationship(
        back_populates="campaign", order_by="CampaignStep.position", cascade="all, delete-orphan"
    )
    vms: Mapped[list[CampaignVm]] = relationship(
        back_populates="campaign", order_by="CampaignVm.position", cascade="all, delete-orphan"
    )

    __mapper_args__ = {"version_id_col": version}


class CampaignStep(Base):
    """One phase (or one failover wave) of a campaign, its jobs and the gate after it."""

    __tablename__ = "campaign_steps"

    campaign_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("campaigns.id", ondelete="CASCADE"), primary_key=True)
    position: Mapped[int] = mapped_column(Integer, primary_key=True)
    phase: Mapped[str] = mapped_column(String(20))
    wave: Mapped[int | None] = mapped_column(Integer)
    # pending | running | done | failed (app.campaign.states.StepState)
    state: Mapped[str] = mapped_column(String(20), default="pending")
    jobs: Mapped[dict[str, str]] = mapped_column(JSON, default=dict)  # vm_key -> its latest job's id
    skipped: Mapped[dict[str, str]] = mapped_column(JSON, default=dict)  # vm_key -> why
    refused: Mapped[dict[str, dict[str, Any]]] = mapped_column(JSON, default=dict)  # vm_key -> {code, message}
    started_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    finished_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    # The gate after the step: none | auto | manual | http; pending | passed | failed once the step is done.
    gate: Mapped[str] = mapped_column(String(10), default="none")
    gate_state: Mapped[str | None] = mapped_column(String(10))
    gate_checks: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)  # http: url, expected_status
    gate_results: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    gate_decided_by: Mapped[str | None] = mapped_column(String(200))
    gate_reason: Mapped[str | None] = mapped_column(Text)
    gate_decided_at: Mapped[datetime | None] = mapped_column(UtcDateTime)

    campaign: Mapped[Campaign] = relationship(back_populates="steps")


class CampaignVm(Base):
    """A VM of a campaign, as it was resolved at creation, and the failover wave it belongs to."""

    __tablename__ = "campaign_vms"
    __table_args__ = (
        # A VM is in at most one unfinished campaign, whatever the race: the database decides.
        Index(
            "uq_campaign_vms_active_vm",
            "vm_key",
            unique=True,
            sqlite_where=text("active"),
            postgresql_where=text("active"),
        ),
    )

    campaign_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("campaigns.id", ondelete="CASCADE"), primary_key=True)
    vm_key: Mapped[str] = mapped_column(String(600), primary_key=True)
    position: Mapped[int] = mapped_column(Integer)
    vm_name: Mapped[str] = mapped_column(String(200))
    vault_id: Mapped[str] = mapped_column(String(400))
    wave: Mapped[int] = mapped_column(Integer, default=1)
    active: Mapped[bool] = mapped_column(Boolean, default=True)  # false once the campaign has ended

    campaign: Mapped[Campaign] = relationship(back_populates="vms")
