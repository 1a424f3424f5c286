"""Tables of the job domain: reprotect requests, per-VM jobs and their transition history."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, Index, Integer, PrimaryKeyConstraint, String, Text, Uuid, func, text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.db import Base, UtcDateTime, new_id, utcnow
from app.job.states import ACTIVE_STATES, JobState
from app.sealed.column import SEALED_LENGTH, Sealed

_ACTIVE_SQL = "state IN ({})".format(", ".join(f"'{s.value}'" for s in sorted(ACTIVE_STATES)))


class ReprotectRequest(Base):
    """One ``POST /reprotect``: a batch of VMs asked for together."""

    __tablename__ = "reprotect_requests"

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=new_id)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow, index=True)
    vm_count: Mapped[int] = mapped_column(Integer)
    requested_by: Mapped[str | None] = mapped_column(String(200))
    # Where this request's completion events go, signed with a secret shown once in the 202.
    callback_url: Mapped[str | None] = mapped_column(String(2000))
    # Sealed at rest and bound to this row (app.sealed): ``callback_secret`` is the clear view of the column.
    sealed_callback_secret: Mapped[str | None] = mapped_column("callback_secret", String(SEALED_LENGTH))
    callback_secret = Sealed[str | None]("sealed_callback_secret")
    # Set when every job is terminal (the request.completed event), cleared when a job is retried.
    completed_at: Mapped[datetime | None] = mapped_column(UtcDateTime)

    jobs: Mapped[list[Job]] = relationship(back_populates="request", order_by="Job.vm_name")


class Job(Base):
    """One VM's reprotect: its state, what Azure is doing for it, and when a worker should look again."""

    __tablename__ = "jobs"
    __table_args__ = (
        # At most one active job per VM, whatever the race: the database decides.
        Index(
            "uq_jobs_active_vm",
            "vm_key",
            unique=True,
            sqlite_where=text(_ACTIVE_SQL),
            postgresql_where=text(_ACTIVE_SQL),
        ),
        Index("ix_jobs_due", "next_due_at"),
        Index("ix_jobs_created", "created_at", "id"),
        # The read path (migration 0007): one index per documented filter, each ending in the sort order,
        # so a filtered page is an index range scan; ARM ids and VM names match case-insensitively.
        Index("ix_jobs_state_created", "state", "created_at", "id"),
        Index("ix_jobs_kind_created", "kind", "created_at", "id"),  # GET /jobs?kind=drill (migration 0013)
        Index("ix_jobs_request_created", "request_id", "created_at", "id"),
        # text_pattern_ops (Postgres): the same index also serves a restricted caller's scope, a LIKE on the
        # lowercase vault id's prefix (a subscription's or resource group's), whatever the collation.
        Index(
            "ix_jobs_vault_lower_created",
            func.lower(text("vault_id")).label("vault_key"),
            "created_at",
            "id",
            postgresql_ops={"vault_key": "text_pattern_ops"},
        ),
        Index("ix_jobs_vm_name_lower_created", func.lower(text("vm_name")), "created_at", "id"),
        Index("ix_jobs_item_lower_created", func.lower(text("item_id")), "created_at", "id"),
        Index("ix_jobs_subscription_lower_created", func.lower(text("subscription_id")), "created_at", "id"),
        Index("ix_jobs_error_code_created", "error_code", "created_at", "id"),
        # The inventory (migration 0008): our latest job per VM, looked up by the VMs' keys.
        Index("ix_jobs_vm_latest", "vm_key", "created_at", "id"),
        # The summaries: in-flight jobs are few, so they are counted live from this partial index.
        Index(
            "ix_jobs_active_summary",
            "state",
            "vault_id",
            "subscription_id",
            "eta_at",
            sqlite_where=text(_ACTIVE_SQL),
            postgresql_where=text(_ACTIVE_SQL),
        ),
        # ... and the failure codes from this one over failed jobs (index-only: no row is read), led by the
        # lowercase vault id so a vault filter or a restricted caller's scope is a range of it.
        Index(
            "ix_jobs_failed_codes",
            func.lower(text("vault_id")).label("vault_key"),
            "error_code",
            "vault_id",
            "subscription_id",
            postgresql_ops={"vault_key": "text_pattern_ops"},
            sqlite_where=text("state = 'failed'"),
            postgresql_where=text("state = 'failed'"),
        ),
    )

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=new_id)
    request_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("reprotect_requests.id"), index=True)
    version: Mapped[int] = mapped_column(Integer, default=1)

    # Which VM: the vault plus the replicated item's name, stable across the item's move.
    vm_key: Mapped[str] = mapped_column(String(600))
    vm_name: Mapped[str] = mapped_column(String(200), index=True)
    vault_id: Mapped[str] = mapped_column(String(400), index=True)
    subscription_id: Mapped[str] = mapped_column(String(64))
    item_id: Mapped[str] = mapped_column(String(800))
    new_item_id: Mapped[str | None] = mapped_column(String(800))
    customization: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    plan: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    # What the job does (``app.job.kinds``): reprotect, drill or drill_cleanup (migration 0012).
    kind: Mapped[str] = mapped_column(String(20), default="reprotect", server_default="reprotect")

    state: Mapped[str] = mapped_column(String(20), default=JobState.ACCEPTED.value, index=True)
    attempt: Mapped[int] = mapped_column(Integer, default=1)
    failed_in: Mapped[str | None] = mapped_column(String(20))
    error_code: Mapped[str | None] = mapped_column(String(100))
    error_message: Mapped[str | None] = mapped_column(Text)
    error_details: Mapped[dict[str, Any] | None] = mapped_column(JSON)

    asr_job_id: Mapped[str | None] = mapped_column(String(800))
    asr_job_name: Mapped[str | None] = mapped_column(String(100))
    asr_job_state: Mapped[str | None] = mapped_column(String(30))
    asr_tasks: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    resync_percent: Mapped[int | None] = mapped_column(Integer)
    estimated_seconds: Mapped[float | None] = mapped_column()
    eta_at: Mapped[datetime | None] = mapped_column(UtcDateTime)

    # Scheduling: the database is the source of truth, the broker only rings the bell.
    next_due_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    dispatched_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    unanswered_rings: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    lease_owner: Mapped[str | None] = mapped_column(String(200))
    lease_until: Mapped[datetime | None] = mapped_column(UtcDateTime)
    transient_failures: Mapped[int] = mapped_column(Integer, default=0)
    deadline_at: Mapped[datetime] = mapped_column(UtcDateTime)

    requested_by: Mapped[str | None] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow, onupdate=utcnow)
    submitted_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    # Written just before this attempt sends switch protection: while an unanswered call may still land
    # in Azure, the job waits for it instead of sending another (cleared when a retry resubmits).
    switch_sent_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    finished_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    # The x-request-id of the latest API call that moved this job (submit, retry, cancel): the worker's log
    # lines and history entries name it even when the sweeper, not that call, rang for the step.
    origin_request_id: Mapped[str | None] = mapped_column(String(128))

    request: Mapped[ReprotectRequest] = relationship(back_populates="jobs")
    transitions: Mapped[list[JobTransition]] = relationship(
        back_populates="job", order_by="JobTransition.id", cascade="all, delete-orphan"
    )

    __mapper_args__ = {"version_id_col": version}

    @property
    def job_state(self) -> JobState:
        """The state as the enum."""
        return JobState(self.state)


class JobTransition(Base):
    """One step of a job's history: append-only."""

    __tablename__ = "job_transitions"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    job_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("jobs.id", ondelete="CASCADE"), index=True)
    attempt: Mapped[int] = mapped_column(Integer)
    from_state: Mapped[str | None] = mapped_column(String(20))
    to_state: Mapped[str] = mapped_column(String(20))
    at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    reason: Mapped[str] = mapped_column(Text, default="")
    actor: Mapped[str] = mapped_column(String(200), default="service")
    # The x-request-id of the API call this move comes from (the worker's moves: the call that rang for them).
    request_id: Mapped[str | None] = mapped_column(String(128))

    job: Mapped[Job] = relationship(back_populates="transitions")


class CacheAccountClaim(Base):
    """Who creates one new cache storage account: the primary key makes one job the creator, however many
    need it; the others wait and read the row again (``app.job.claims``)."""

    __tablename__ = "cache_account_claims"

    key: Mapped[str] = mapped_column(String(900), primary_key=True)
    account_id: Mapped[str] = mapped_column(String(800))
    state: Mapped[str] = mapped_column(String(20))  # creating | requested | ready
    owner: Mapped[str] = mapped_column(String(64))  # the job creating it
    lease_until: Mapped[datetime] = mapped_column(UtcDateTime)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)


class JobTerminalCount(Base):
    """How many jobs sit in each terminal state per vault (lower-cased) and subscription: kept by a transition
    listener (``app.job.counts``) so the summaries never count a million finished jobs one by one."""

    __tablename__ = "job_terminal_counts"
    __table_args__ = (PrimaryKeyConstraint("vault_key", "subscription_id", "state"),)

    vault_key: Mapped[str] = mapped_column(String(400))
    subscription_id: Mapped[str] = mapped_column(String(64))
    state: Mapped[str] = mapped_column(String(20))
    count: Mapped[int] = mapped_column(Integer, default=0)
