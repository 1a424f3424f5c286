"""The kinds of per-VM job: reprotect (switch protection) and the drill kinds (test failover, its cleanup).

Every kind runs through the same machinery (lease, due time, steps, adopt-never-resend); a kind other than
reprotect supplies its own validate, submit and done rules (``app.job.drill_steps``).
"""

from __future__ import annotations

from enum import StrEnum


class JobKind(StrEnum):
    """What a job does to its VM."""

    REPROTECT = "reprotect"
    DRILL = "drill"
    DRILL_CLEANUP = "drill_cleanup"
