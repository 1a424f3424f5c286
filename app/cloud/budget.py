"""The read-budget governor: the service never uses more than a share of a subscription's ARM read budget.

ARM gives each principal a bucket of reads per subscription (250, refilled at 25 per second: "Understand how
Azure Resource Manager throttles requests") and says how many are left in every answer's
``x-ms-ratelimit-remaining-subscription-reads`` header. Every other tool of the same identity and
subscription draws on the same bucket, so the service keeps to ``share`` of it (default 50 %):

1. its own pace, per subscription: in any window as long as the bucket takes to refill (250 / 25 = 10 s), at
   most ``share`` of what the bucket holds (125 reads). A burst never takes more than ``share`` of the bucket,
   and no stretch of time more than ``share`` of its refill — a local token bucket of half the size and half
   the rate kept the first but let one 10-s window read at 100 % of the refill (the burst, then the rate);
   the 2,000-VM fleet benchmark measured a busiest window of 82 % with it;
2. Azure's word: when the last header (plus what refilled since, minus what we sent since) says fewer than
   ``(1 - share)`` of the bucket are left, reads wait until that reserve is back — whoever spent it. The
   bucket's size is taken as the most the header ever said was left (at most ``burst``), halved whenever
   the header is still below the reserve after a wait that should have refilled it (a smaller bucket, or
   others spending it: the service slows down but never stops).

A GET waits before it leaves (``ReadBudgetPolicy``, in every SDK client's pipeline); writes are not held.
The local bucket is per process: several processes each keep to the share, and the header keeps their sum
from eating the reserve.
"""

from __future__ import annotations

import re
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from azure.core.pipeline.policies import CustomHookPolicy

from app.metrics.azure import read_budget_waited

REMAINING_READS = "x-ms-ratelimit-remaining-subscription-reads"
_NUDGE = 1e-3  # seconds added to every wait, so rounding never leaves a wait too short to matter
_SUBSCRIPTION = re.compile(r"/subscriptions/([^/?]+)", re.IGNORECASE)


@dataclass
class _Account:
    sent_at: deque[float] = field(default_factory=deque)  # our reads of the last window, oldest first
    remaining: float | None = None  # Azure's last word
    said_at: float = 0.0
    sent_since: int = 0
    largest: float = 0.0  # the most Azure ever said was left: the bucket's size as seen (never above ``burst``)
    held: bool = False  # the last read waited for the reserve to come back


@dataclass
class ReadBudget:
    """Per-subscription pacing of reads (see the module docstring)."""

    share: float = 0.5
    burst: float = 250.0
    per_second: float = 25.0
    clock: Callable[[], float] = time.monotonic
    sleep: Callable[[float], None] = time.sleep
    reads: int = 0
    waited_seconds: float = 0.0
    _accounts: dict[str, _Account] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def acquire(self, subscription: str) -> float:
        """Wait until a read of ``subscription`` fits the budget, take it; the seconds waited."""
        waited = 0.0
        while True:
            with self._lock:
                # Every wait counts towards the reserve's cap, our own pace's included: a read that has waited a
                # full refill for whatever reason goes, and Azure's own 429 judges it (counting only the
                # reserve's waits could hold each read a further full refill behind a stale header).
                wait, _ = self._try(subscription.lower(), reserve_held=waited)
                if wait <= 0:
                    self.reads += 1
                    self.waited_seconds += waited
                    read_budget_waited(waited)
                    return waited
            self.sleep(wait)
            waited += wait

    def observe(self, subscription: str, remaining: str | None) -> None:
        """Note what Azure said is left of the subscription's reads."""
        if remaining is None or not remaining.strip().isdigit():
            return
        with self._lock:
            account = self._account(subscription.lower())
            said = float(remaining)
            if account.held and said < (1.0 - self.share) * account.largest:
                # We waited as long as a bucket of that size needs, and it is still low: smaller than we thought
                # (or others keep spending it). Halve our idea of it rather than wait for ever.
                account.largest = max(said, account.largest / 2)
            account.held = False
            account.remaining = said
            account.largest = min(self.burst, max(account.largest, said))
            account.said_at = self.clock()
            account.sent_since = 0

    def _account(self, key: str) -> _Account:
        if key not in self._accounts:
            self._accounts[key] = _Account()
        return self._accounts[key]

    def _try(self, key: str, *, reserve_held: float = 0.0) -> tuple[float, bool]:
        """(0, False) and the read taken, or the seconds to wait and whether for Azure's reserve (else for our
        own window). The reserve never holds one read longer than a full bucket takes to refill: past that,
        Azure's own 429 is the judge (the header may be stale or odd)."""
        now = self.clock()
        account = self._account(key)
        window = self.burst / self.per_second
        sent = account.sent_at
        while sent and sent[0] <= now - window:
            sent.popleft()
        if len(sent) >= max(1, int(self.share * self.burst)):
            return sent[0] + window - now + _NUDGE, False
        if account.remaining is not None and account.largest >= 1.0 and reserve_held < self.burst / self.per_second:
            size = account.largest
            left = min(size, account.remaining + (now - account.said_at) * self.per_second) - account.sent_since
            reserve = (1.0 - self.share) * size
            if left - 1.0 < reserve:
                account.held = True
                return (reserve - left + 1.0) / self.per_second + _NUDGE, True
        sent.append(now)
        account.sent_since += 1
        return 0.0, False


class ReadBudgetPolicy(CustomHookPolicy):  # type: ignore[type-arg]
    """The SDK pipeline's custom-hook policy, which also holds each GET to the ``ReadBudget`` and feeds it
    Azure's remaining-reads header (per-call ``raw_request_hook`` / ``raw_response_hook`` still work)."""

    def __init__(self, budget: ReadBudget, **kwargs: Any):
        super().__init__(**kwargs)
        self.budget = budget

    def on_request(self, request: Any) -> None:
        http = request.http_request
        if http.method.upper() == "GET":
            found = _SUBSCRIPTION.search(http.url)
            if found:
                self.budget.acquire(found.group(1))
        super().on_request(request)

    def on_response(self, request: Any, response: Any) -> None:
        http = request.http_request
        found = _SUBSCRIPTION.search(http.url)
        if found and http.method.upper() == "GET":
            self.budget.observe(found.group(1), response.http_response.headers.get(REMAINING_READS))
        super().on_response(request, response)
