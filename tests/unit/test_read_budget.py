"""The read-budget governor keeps to its share of ARM's bucket: its own pace, and Azure's remaining-reads
header (a reserve for everyone else), learning a smaller bucket instead of waiting for ever."""

from __future__ import annotations

from app.cloud.budget import ReadBudget

SUB = "00000000-0000-0000-0000-000000000001"


def _budget() -> tuple[ReadBudget, list[float]]:
    now = [0.0]

    def sleep(seconds: float) -> None:
        now[0] += seconds

    return ReadBudget(share=0.5, burst=250, per_second=25, clock=lambda: now[0], sleep=sleep), now


def test_reads_keep_to_half_the_bucket_and_half_the_refill():
    budget, now = _budget()
    for _ in range(125):  # half the burst at once
        assert budget.acquire(SUB) == 0.0
    for _ in range(125):  # then half the refill rate: 125 more reads take 10 s
        budget.acquire(SUB)
    assert 9.9 <= now[0] <= 10.1
    assert budget.acquire("another-subscription") == 0.0  # each subscription has its own budget


def test_no_ten_second_window_reads_more_than_half_the_refill():
    """The busiest window, not only the average: a burst and then the steady rate may not add up."""
    budget, now = _budget()
    sent: list[float] = []
    for index in range(1000):
        budget.acquire(SUB)
        sent.append(now[0])
        if index % 7 == 0:
            now[0] += 0.05  # the callers' own pace, uneven
    for start in sent:
        in_window = sum(1 for at in sent if start <= at < start + 10.0)
        assert in_window <= 125, (start, in_window)
    assert sent[-1] < 1000 / 12.5 + 10  # and it keeps half the refill: no slower than the share allows


def test_a_low_remaining_header_holds_reads_until_the_reserve_is_back():
    budget, _ = _budget()
    budget.acquire(SUB)
    budget.observe(SUB, "249")
    budget.observe(SUB, "100")  # someone else spent the bucket: below the reserve of 125
    waited = budget.acquire(SUB)
    assert waited >= (125 - 100) / 25
    budget.observe(SUB, "200")
    assert budget.acquire(SUB) == 0.0


def test_a_bucket_smaller_than_thought_slows_reads_but_never_stops_them():
    budget, now = _budget()
    budget.acquire(SUB)
    budget.observe(SUB, "249")
    for _ in range(20):  # Azure's bucket is really 20 and stays nearly empty
        budget.acquire(SUB)
        budget.observe(SUB, "3")
    assert now[0] < 60


def test_a_header_that_never_recovers_holds_a_read_no_longer_than_a_full_refill():
    budget, now = _budget()
    budget.acquire(SUB)
    budget.observe(SUB, "0")  # an odd or stale header: nothing left, ever
    budget.acquire(SUB)
    budget.observe(SUB, "0")
    budget.acquire(SUB)
    assert now[0] <= 2 * 250 / 25 + 1
