"""One clear log line per job transition (its creation included); a failure's is a WARNING with Azure's code
and message, written once the transaction that recorded it has committed (a rolled-back move
never shows up). It reads the history entries each flush writes, so no code path can move a job silently."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from sqlalchemy import event
from sqlalchemy.orm import Session, sessionmaker

from app.job.models import JobTransition
from app.job.states import JobState
from app.logs import context

log = logging.getLogger("reprotect.job")
_PENDING = "job_log_lines"


@dataclass(frozen=True)
class _Line:
    job_id: str
    vm: str
    vault: str | None
    asr_job_id: str | None
    attempt: int
    previous: str | None
    state: str
    reason: str
    actor: str
    error: str | None


def install(sessions: sessionmaker[Session]) -> None:
    """Keep a line for every history entry a session made by ``sessions`` flushes; write them after the
    commit, forget them on rollback."""

    def kept(session: Session, _flush_context: Any) -> None:
        lines = [_line_of(entry) for entry in session.new if isinstance(entry, JobTransition)]
        if lines:
            session.info.setdefault(_PENDING, []).extend(lines)

    def written(session: Session) -> None:
        for line in session.info.pop(_PENDING, None) or []:
            _write(line)

    def forgotten(session: Session, _previous_transaction: object = None) -> None:
        session.info.pop(_PENDING, None)

    event.listen(sessions, "after_flush", kept)
    event.listen(sessions, "after_commit", written)
    event.listen(sessions, "after_soft_rollback", forgotten)


def _line_of(entry: JobTransition) -> _Line:
    job = entry.job  # None when the entry was added by job id alone: the line names what the entry knows
    error = None
    if entry.to_state == JobState.FAILED.value:
        code, message = (job.error_code, job.error_message) if job is not None else (None, None)
        error = f"{code or 'unknown'}: {message or entry.reason}".rstrip(": ")
    return _Line(
        job_id=str(job.id if job is not None else entry.job_id),
        vm=job.vm_name if job is not None else "?",
        vault=job.vault_id if job is not None else None,
        asr_job_id=job.asr_job_name if job is not None else None,
        attempt=entry.attempt,
        previous=entry.from_state,
        state=entry.to_state,
        reason=entry.reason,
        actor=entry.actor,
        error=error,
    )


def _write(line: _Line) -> None:
    with context.about_job(
        job_id=line.job_id,
        vm=line.vm,
        vault=line.vault,
        asr_job_id=line.asr_job_id,
        attempt=line.attempt,
        state=line.state,
    ):
        moved = f"{line.previous} -> {line.state}" if line.previous else line.state
        if line.error is None:
            log.info("job %s (%s): %s, %s (by %s)", line.job_id, line.vm, moved, line.reason, line.actor)
        else:  # the failure's own line: what failed, in which attempt, and Azure's code and message
            log.warning("job %s (%s): %s (attempt %d): %s", line.job_id, line.vm, moved, line.attempt, line.error)
