"""The lease kernel on real tables: which rows are due and free, doorbell marks, giving a lease back, and what a holder may write."""

from __future__ import annotations

import uuid
from datetime import timedelta

import pytest
from sqlalchemy import event, select
from sqlalchemy.dialects import postgresql

from app.db import transaction
from app.job.models import Job, ReprotectRequest
from app.job.runner import JOBS, release
from app.webhook.delivery import DELIVERIES
from app.webhook.models import WebhookDelivery, WebhookEvent
from tests.unit.job_rows import NOW, add_job, empty_database, read_job

EARLIER = NOW - timedelta(minutes=5)  # when every test row was last changed


@pytest.fixture
def sessions(database_url):
    with empty_database(database_url) as sessions:
        yield sessions


def take_due(sessions, table=JOBS, *, redispatch_after=10.0, **kwargs):
    with transaction(sessions) as session:
        return table.take_due(session, now=NOW, redispatch_after=redispatch_after, **kwargs)


def lease_of(sessions, job_id):
    job = read_job(sessions, job_id)
    return job.lease_owner, job.lease_until, job.dispatched_at


# --- what the sweeper rings for --------------------------------------------------------------------------------


def test_the_sweeper_takes_due_free_jobs_earliest_first_and_marks_them_rung(sessions):
    later = add_job(sessions, name="later", next_due_at=NOW - timedelta(seconds=10))
    unscheduled = add_job(sessions, name="unscheduled", next_due_at=None)
    earliest = add_job(sessions, name="earliest", next_due_at=NOW - timedelta(seconds=20))

    assert take_due(sessions) == [earliest, later, unscheduled]

    for job_id in (earliest, later, unscheduled):
        job = read_job(sessions, job_id)
        assert job.dispatched_at == NOW
        assert job.updated_at == EARLIER  # a doorbell mark is not a change of the job (its ETag stays)


def test_a_limited_sweep_takes_the_earliest_scheduled_jobs_first(sessions):
    unscheduled = add_job(sessions, name="unscheduled", next_due_at=None)
    later = add_job(sessions, name="later", next_due_at=NOW - timedelta(seconds=10))
    earliest = add_job(sessions, name="earliest", next_due_at=NOW - timedelta(seconds=20))

    assert take_due(sessions, limit=2) == [earliest, later]
    assert read_job(sessions, unscheduled).dispatched_at is None


@pytest.mark.parametrize(
    "quiet",
    [
        pytest.param({"next_due_at": NOW + timedelta(seconds=1)}, id="not-due-yet"),
        pytest.param({"lease_owner": "w1", "lease_until": NOW + timedelta(seconds=1)}, id="leased"),
        pytest.param({"lease_owner": "w1", "lease_until": NOW}, id="lease-ends-this-instant"),
        pytest.param({"state": "cancelled"}, id="finished"),
        pytest.param({"dispatched_at": NOW - timedelta(seconds=5)}, id="rung-recently"),
        pytest.param({"dispatched_at": NOW - timedelta(seconds=10)}, id="rung-exactly-redispatch-after-ago"),
    ],
)
def test_the_sweeper_does_not_ring_for_jobs_not_due_leased_finished_or_rung_recently(sessions, quiet):
    job_id = add_job(sessions, **quiet)
    before = read_job(sessions, job_id).dispatched_at

    assert take_due(sessions) == []
    assert read_job(sessions, job_id).dispatched_at == before


@pytest.mark.parametrize(
    "again",
    [
        pytest.param({"dispatched_at": NOW - timedelta(seconds=11)}, id="doorbell-presumed-lost"),
        pytest.param({"lease_owner": "dead", "lease_until": NOW - timedelta(seconds=1)}, id="worker-died"),
        pytest.param({"next_due_at": NOW}, id="due-this-instant"),
    ],
)
def test_the_sweeper_rings_again_for_lost_doorbells_and_dead_workers(sessions, again):
    job_id = add_job(sessions, **again)

    assert take_due(sessions) == [job_id]


@pytest.mark.parametrize(
    ("unanswered", "waits"),
    [(0, 10), (1, 10), (2, 20), (3, 40), (4, 80), (5, 160), (12, 160)],
)
def test_each_unanswered_doorbell_doubles_the_wait_before_the_next_up_to_sixteen_times(sessions, unanswered, waits):
    too_soon = add_job(
        sessions, name="too-soon", unanswered_rings=unanswered, dispatched_at=NOW - timedelta(seconds=waits)
    )
    late = add_job(sessions, name="late", unanswered_rings=unanswered, dispatched_at=NOW - timedelta(seconds=waits + 1))

    assert take_due(sessions, redispatch_after=10.0) == [late]
    assert read_job(sessions, late).unanswered_rings == unanswered + 1
    assert read_job(sessions, too_soon).unanswered_rings == unanswered


def test_a_row_worked_on_starts_counting_unanswered_doorbells_again(sessions):
    lease = {"lease_owner": "w1", "lease_until": NOW + timedelta(seconds=60), "dispatched_at": NOW}
    given_back = add_job(sessions, name="given-back", unanswered_rings=3, **lease)
    recorded = add_job(sessions, name="recorded", unanswered_rings=3, **lease)

    with transaction(sessions) as session:
        release(session, job_id=given_back, worker="w1")
        JOBS.let_go(session.get(Job, recorded))

    assert read_job(sessions, given_back).unanswered_rings == 0
    assert read_job(sessions, recorded).unanswered_rings == 0
    assert read_job(sessions, recorded).dispatched_at is None


def test_a_claim_answers_the_doorbells_so_a_lease_its_worker_lost_is_rung_again_soon(sessions):
    job_id = add_job(
        sessions, unanswered_rings=5, dispatched_at=NOW - timedelta(minutes=20), next_due_at=NOW - timedelta(minutes=20)
    )

    with transaction(sessions) as session:
        assert JOBS.claim(session, job_id, worker="dies", now=NOW - timedelta(seconds=70), lease_seconds=60)

    assert read_job(sessions, job_id).unanswered_rings == 0
    assert take_due(sessions) == [job_id]  # the lease ran out 10 s ago; rung 20 min ago: once is enough


def test_deliveries_count_their_unanswered_doorbells_too(sessions):
    delivery_id = add_delivery(sessions, next_attempt_at=NOW - timedelta(seconds=1))

    def rung_at(seconds: float) -> bool:
        with transaction(sessions) as session:
            return bool(DELIVERIES.take_due(session, now=NOW + timedelta(seconds=seconds), redispatch_after=10.0))

    assert [rung_at(s) for s in (0, 10.5, 20, 31)] == [True, True, False, True]  # waits 10 s, then 20 s
    with transaction(sessions) as session:
        assert session.get(WebhookDelivery, delivery_id).unanswered_rings == 3


def test_a_first_doorbell_rings_at_once_however_many_went_unanswered_before(sessions):
    forgotten = add_job(sessions, unanswered_rings=7, dispatched_at=None)

    assert take_due(sessions) == [forgotten]


def add_delivery(sessions, *, next_attempt_at, status="pending"):
    delivery_id = uuid.uuid4()
    with transaction(sessions) as session:
        request = ReprotectRequest(id=uuid.uuid4(), created_at=EARLIER, vm_count=1)
        event_row = WebhookEvent(
            id=f"evt_{delivery_id.hex}", type="job.protected", created_at=EARLIER, payload={}, request_id=request.id
        )
        session.add(request)
        session.flush()
        session.add(event_row)
        session.add(
            WebhookDelivery(
                id=delivery_id,
                event=event_row,
                request_id=request.id,
                event_type="job.protected",
                status=status,
                next_attempt_at=next_attempt_at,
                created_at=EARLIER,
            )
        )
    return delivery_id


def test_a_delivery_is_due_only_once_it_has_an_attempt_time_that_came(sessions):
    due = add_delivery(sessions, next_attempt_at=NOW - timedelta(seconds=1))
    add_delivery(sessions, next_attempt_at=None)
    add_delivery(sessions, next_attempt_at=NOW + timedelta(seconds=1))
    add_delivery(sessions, next_attempt_at=NOW - timedelta(seconds=1), status="delivered")

    assert take_due(sessions, DELIVERIES) == [due]


# --- doorbell marks -----------------------------------------------------------------------------------------------


def test_marking_rung_touches_only_the_jobs_named(sessions):
    rung = add_job(sessions, name="rung")
    other = add_job(sessions, name="other")

    with transaction(sessions) as session:
        JOBS.mark_dispatched(session, [rung], now=NOW)

    assert read_job(sessions, rung).dispatched_at == NOW
    assert read_job(sessions, rung).updated_at == EARLIER
    assert read_job(sessions, other).dispatched_at is None


def test_an_answered_doorbell_without_work_lets_the_sweeper_ring_again(sessions):
    answered = add_job(sessions, name="answered", dispatched_at=NOW - timedelta(seconds=1))
    other = add_job(sessions, name="other", dispatched_at=NOW - timedelta(seconds=1))

    with transaction(sessions) as session:
        JOBS.forget_dispatch(session, answered)

    assert read_job(sessions, answered).dispatched_at is None
    assert read_job(sessions, answered).updated_at == EARLIER
    assert read_job(sessions, other).dispatched_at == NOW - timedelta(seconds=1)
    assert take_due(sessions) == [answered]


# --- giving a lease back -------------------------------------------------------------------------------------------


def test_a_lease_given_back_frees_the_job_at_once_without_changing_it(sessions):
    lease = {"lease_owner": "w1", "lease_until": NOW + timedelta(seconds=60), "dispatched_at": NOW}
    mine = add_job(sessions, name="mine", **lease)
    also_mine = add_job(sessions, name="also-mine", **lease)

    with transaction(sessions) as session:
        release(session, job_id=mine, worker="w1")

    assert lease_of(sessions, mine) == (None, None, None)
    job = read_job(sessions, mine)
    assert (job.updated_at, job.version) == (EARLIER, 1)
    assert lease_of(sessions, also_mine) == ("w1", NOW + timedelta(seconds=60), NOW)


def test_only_the_holder_can_give_a_lease_back(sessions):
    job_id = add_job(sessions, lease_owner="w2", lease_until=NOW + timedelta(seconds=60), dispatched_at=NOW)

    with transaction(sessions) as session:
        release(session, job_id=job_id, worker="w1")

    assert lease_of(sessions, job_id) == ("w2", NOW + timedelta(seconds=60), NOW)


# --- what a holder may read and write ------------------------------------------------------------------------------


def test_the_holder_writes_while_its_lease_lasts(sessions):
    job_id = add_job(sessions, name="held", lease_owner="w1", lease_until=NOW + timedelta(seconds=1))
    other = add_job(sessions, name="other", lease_owner="w1", lease_until=NOW + timedelta(seconds=1))

    with transaction(sessions) as session:
        written = JOBS.write_if_held(session, job_id, {Job.asr_job_state: "noted"}, worker="w1", now=NOW)

    assert written is True
    assert read_job(sessions, job_id).asr_job_state == "noted"
    assert read_job(sessions, other).asr_job_state is None


@pytest.mark.parametrize(
    "lost",
    [
        pytest.param({"lease_owner": "w2", "lease_until": NOW + timedelta(seconds=1)}, id="someone-else"),
        pytest.param({"lease_owner": "w1", "lease_until": NOW}, id="lease-ended"),
    ],
)
def test_a_worker_without_a_live_lease_writes_nothing(sessions, lost):
    job_id = add_job(sessions, **lost)

    with transaction(sessions) as session:
        written = JOBS.write_if_held(session, job_id, {Job.asr_job_state: "noted"}, worker="w1", now=NOW)

    assert written is False
    assert read_job(sessions, job_id).asr_job_state is None


def test_the_holder_loads_its_row_others_and_finished_rows_are_not_loaded(sessions):
    held = add_job(sessions, name="held", lease_owner="w1")
    finished = add_job(sessions, name="finished", lease_owner="w1", state="protected")

    with transaction(sessions) as session:
        row = JOBS.held_row(session, held, worker="w1")
        assert row is not None
        assert row.id == held
        assert JOBS.held_row(session, held, worker="w2") is None
        assert JOBS.held_row(session, finished, worker="w1") is None


def statements_of(session):
    seen = []
    event.listen(session, "do_orm_execute", lambda state: seen.append(state.statement))
    return seen


def locks(statement) -> bool:
    return "FOR UPDATE" in str(statement.compile(dialect=postgresql.dialect()))


def test_a_row_is_locked_for_recording_only_when_asked(sessions):
    job_id = add_job(sessions, lease_owner="w1")

    with transaction(sessions) as session:
        seen = statements_of(session)
        JOBS.held_row(session, job_id, worker="w1")
        JOBS.held_row(session, job_id, worker="w1", lock=True)

    assert [locks(s) for s in seen] == [False, True]


def test_a_locked_row_makes_a_second_recorder_wait(sessions, database_url):
    if not database_url.startswith("postgresql"):
        pytest.skip("SQLite has no row locks")
    job_id = add_job(sessions, lease_owner="w1")
    with transaction(sessions) as first:
        JOBS.held_row(first, job_id, worker="w1", lock=True)
        with transaction(sessions) as second:
            second.connection().exec_driver_sql("SET LOCAL lock_timeout = '100ms'")
            with pytest.raises(Exception, match="lock"):
                second.execute(select(Job.id).where(Job.id == job_id).with_for_update())
