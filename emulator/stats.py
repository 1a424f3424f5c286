"""Request counters for ``GET /_emulator/stats``: totals, 429s, calls per operation id, per item and per
subscription (the one in the request's path, which is the one ARM charges)."""

from __future__ import annotations

import copy
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any


@dataclass
class Stats:
    """What the emulator served since start or the last reset."""

    requests: int = 0
    throttled: int = 0
    reads: int = 0
    writes: int = 0
    calls: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    calls_by_item: dict[str, dict[str, int]] = field(default_factory=lambda: defaultdict(lambda: defaultdict(int)))
    statuses: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    by_subscription: dict[str, dict[str, Any]] = field(
        default_factory=lambda: defaultdict(lambda: {"reads": 0, "writes": 0, "throttled": 0, "calls": {}})
    )
    switch_protection_bodies: dict[str, list[Any]] = field(default_factory=lambda: defaultdict(list))
    reprotect_bodies: dict[str, list[Any]] = field(default_factory=lambda: defaultdict(list))

    def call(self, operation_id: str, method: str, subscription: str = "") -> None:
        """A request that reached its handler (charged to the subscription in its path)."""
        self.calls[operation_id] += 1
        kind = "reads" if method.upper() == "GET" else "writes"
        if kind == "reads":
            self.reads += 1
        else:
            self.writes += 1
        counts = self.by_subscription[subscription.lower()]
        counts[kind] += 1
        counts["calls"][operation_id] = counts["calls"].get(operation_id, 0) + 1

    def throttle(self, subscription: str) -> None:
        """A 429 served for ``subscription``."""
        self.throttled += 1
        self.by_subscription[subscription.lower()]["throttled"] += 1

    def for_item(self, item: str, operation_id: str) -> None:
        """Attribute a call to a replicated item."""
        self.calls_by_item[item][operation_id] += 1

    def describe(self) -> dict[str, Any]:
        """The counters as JSON."""
        return {
            "requests": self.requests,
            "throttled": self.throttled,
            "reads": self.reads,
            "writes": self.writes,
            "calls": dict(self.calls),
            "calls_by_item": {k: dict(v) for k, v in self.calls_by_item.items()},
            "statuses": dict(self.statuses),
            "by_subscription": copy.deepcopy(dict(self.by_subscription)),
            "switch_protection_bodies": copy.deepcopy(dict(self.switch_protection_bodies)),
            "reprotect_bodies": copy.deepcopy(dict(self.reprotect_bodies)),
        }
