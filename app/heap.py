"""The started process's heap kept out of the garbage collector's full passes.

Importing the app and the Azure SDK leaves some 290,000 objects (mostly the SDK's model classes and their
metadata) that live as long as the process. Every full (generation 2) collection walked them all again: at
64 connections the API paused ~190 ms about once a second, which was most of its p99
(``benchmarks/read_path.py``). Frozen once started (``gc.freeze``, CPython's own remedy for a long-lived startup
heap), they are never scanned again; whatever is made afterwards is collected as before.

Once per process, at its first start: a process that builds several apps (the test suite) pays one full
collection, and nothing made after its start is kept from the collector.
"""

from __future__ import annotations

import gc


def freeze_started_heap() -> int:
    """Collect once, then move every object alive now out of the collector's reach (unless this process
    already did); how many objects are frozen."""
    if gc.get_freeze_count() == 0:
        gc.collect()
        gc.freeze()
    return gc.get_freeze_count()
