"""An in-flight job is looked at again after half its expected remaining time, within the poll bounds."""

from datetime import UTC, datetime, timedelta

from app.job.eta import next_poll_seconds

NOW = datetime(2026, 1, 1, tzinfo=UTC)


def test_polls_follow_half_the_remaining_time_within_bounds():
    def poll(remaining: float | None) -> float:
        eta = None if remaining is None else NOW + timedelta(seconds=remaining)
        return next_poll_seconds(eta_at=eta, now=NOW, floor=30, ceiling=300)

    assert poll(None) == 30  # nothing expected: the normal interval
    assert poll(3600) == 300  # an hour to go: at most every five minutes
    assert poll(200) == 100
    assert poll(20) == 30  # nearly done (or overdue): the normal interval, never sooner
    assert poll(-600) == 30
