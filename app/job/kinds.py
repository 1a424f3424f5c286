"""The kinds of per-VM job: reprotect (switch protection, either way) and the item operations of the way home
(test failover, its cleanup, unplanned failover, commit).

Every kind runs through the same machinery (lease, due time, steps, adopt-never-resend). The reprotect kinds
run ``app.job.steps``; ``reprotect_back`` is a reprotect whose direction restores the original one (the VM
runs where replication was first enabled from). The other kinds supply their validate, submit and done rules
through one table (``app.job.item_operations``) run by ``app.job.item_steps``.
"""

from __future__ import annotations

from enum import StrEnum


class JobKind(StrEnum):
    """What a job does to its VM."""

    REPROTECT = "reprotect"
    DRILL = "drill"
    DRILL_CLEANUP = "drill_cleanup"
    FAILOVER = "failover"
    COMMIT = "commit"
    REPROTECT_BACK = "reprotect_back"


REPROTECT_KINDS = frozenset({JobKind.REPROTECT, JobKind.REPROTECT_BACK})
