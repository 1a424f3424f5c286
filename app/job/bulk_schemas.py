"""API shapes of the bulk actions on jobs (``POST /jobs:retry``, ``POST /jobs:cancel``): the filter, the cap,
and the outcome of every job matched."""

from __future__ import annotations

import re
import uuid
from enum import StrEnum
from typing import Annotated, Literal

from pydantic import AwareDatetime, BaseModel, BeforeValidator, ConfigDict, Field

from app.job.states import JobState

MAX_COUNT_CAP = 1000
DEFAULT_MAX_COUNT = 100


_NUMBER = re.compile(r"\s*[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?\s*")


def _not_a_number(value: object) -> object:
    # The rule of app.api.deps.IsoDateTime (the domain does not import the edge): pydantic would read a
    # number as a Unix timestamp, and the document promises RFC 3339 date-times only.
    if isinstance(value, int | float) or (isinstance(value, str) and _NUMBER.fullmatch(value)):
        raise ValueError("expected an ISO 8601 date-time with an offset, such as 2026-01-31T12:00:00Z")
    return value


Instant = Annotated[AwareDatetime, BeforeValidator(_not_a_number)]
NO_NUL = r"^[^\x00]+$"  # Postgres text cannot hold NUL: refused as input, never a database error
ErrorCode = Annotated[str, Field(min_length=1, max_length=100, pattern=NO_NUL)]
VaultId = Annotated[str, Field(min_length=1, max_length=400, pattern=NO_NUL)]


class JobSelector(BaseModel):
    """Which jobs a bulk action is about: every given criterion must hold (lists match any of their values).

    Only jobs in the caller's scopes ever match. ``states`` defaults to the states the action applies to
    (``failed`` for retry, the active states for cancel); name other states to see their refusals.
    """

    model_config = ConfigDict(extra="forbid")

    states: list[JobState] | None = Field(default=None, min_length=1, max_length=len(JobState))
    error_codes: list[ErrorCode] | None = Field(
        default=None, min_length=1, max_length=50, description="The failed job's error code (ASR's or ours)."
    )
    vault_ids: list[VaultId] | None = Field(default=None, min_length=1, max_length=100)
    request_ids: list[uuid.UUID] | None = Field(default=None, min_length=1, max_length=100)
    subscription_id: str | None = Field(
        default=None, min_length=1, max_length=64, pattern=r"^[\w-]+$", description="The vault's subscription."
    )
    vm_name_prefix: str | None = Field(
        default=None,
        min_length=1,
        max_length=200,
        pattern=NO_NUL,
        description="Start of the VM name (any letter case).",
    )
    created_after: Instant | None = None
    created_before: Instant | None = None


class BulkActionIn(BaseModel):
    """A bulk action: the filter, and the most jobs it may act on (more matches are refused, never cut)."""

    model_config = ConfigDict(extra="forbid")

    filter: JobSelector
    max_count: int = Field(
        default=DEFAULT_MAX_COUNT,
        ge=1,
        le=MAX_COUNT_CAP,
        description=f"Refuse (too_many_matches) when more jobs match; at most {MAX_COUNT_CAP}.",
    )


class Outcome(StrEnum):
    """What happened (or, in a dry run, would happen) to one matched job."""

    RETRIED = "retried"
    CANCELLED = "cancelled"
    REFUSED = "refused"  # the single-job call would answer 4xx (its problem is given)
    FAILED = "failed"  # the single-job call would answer 5xx (Azure or the database): try again later
    WOULD_RETRY = "would_retry"
    WOULD_CANCEL = "would_cancel"
    WOULD_BE_REFUSED = "would_be_refused"


class JobProblem(BaseModel):
    """The problem the single-job call gives for this job."""

    status: int
    code: str
    detail: str


class BulkJobOut(BaseModel):
    """One matched job: as it was when matched, and what the action did to it."""

    id: uuid.UUID
    href: str
    vm: str
    vault_id: str
    state: JobState
    error_code: str | None
    outcome: Outcome
    detail: str
    state_after: JobState | None = Field(description="The job's state after the action (None in a dry run).")
    problem: JobProblem | None


class BulkActionOut(BaseModel):
    """Every matched job's outcome, oldest first, with counts per outcome (no job left out)."""

    action: Literal["retry", "cancel"]
    dry_run: bool
    filter: JobSelector = Field(description="The filter as applied, with the default states filled in.")
    max_count: int
    matched: int
    counts: dict[Outcome, int]
    jobs: list[BulkJobOut]
