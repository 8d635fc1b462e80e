"""The dashboard's read queries on a real SQLite saga store with hand-made rows."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import insert

from glastonbury.clock import utc_now as now
from orchestrator.adapters import saga_views, step_totals
from orchestrator.adapters.tables import saga_steps, sagas
from tests.unit.orchestrator.store import Store

STUCK_AFTER = timedelta(seconds=60)


class Rows:
    """Writes sagas and steps straight into the tables, with the times a test needs."""

    def __init__(self, store: Store):
        self.store = store
        self.clock = now()

    def saga(self, order_id: str, state: str, touched_ago: float = 0, parked: bool = False,
             deadline_in: float | None = None) -> None:
        touched = self.clock - timedelta(seconds=touched_ago)
        deadline = None if deadline_in is None else self.clock + timedelta(seconds=deadline_in)
        with self.store.transaction() as tx:
            tx.execute(insert(sagas).values(
                order_id=order_id, state=state, customer_id="c", total="1.00", lines="[]",
                payment_requested=False, payment_deadline=deadline, payment_to_void=False,
                drives=0, parked=parked, created_at=touched, updated_at=touched))

    def step(self, order_id: str, name: str, took: float | None, outcome: str | None = None,
             attempts: int = 1, ended_ago: float = 0) -> None:
        ended = self.clock - timedelta(seconds=ended_ago)
        started = ended - timedelta(seconds=took or 0)
        with self.store.transaction() as tx:
            tx.execute(insert(saga_steps).values(
                order_id=order_id, name=name, started_at=started,
                ended_at=ended if took is not None else None, attempts=attempts,
                outcome=outcome, task_id=f"task-{order_id}-{name}"))
            if took is not None:   # and its step's totals, as the end of a run adds to them
                step_totals.add_run(tx, name, outcome, started, ended)


@pytest.fixture
def store(tmp_path: Path) -> Store:
    return Store.at(f"sqlite:///{tmp_path / 'orchestrator.db'}")


@pytest.fixture
def rows(store: Store) -> Rows:
    return Rows(store)


def test_median_and_95th_percentile_interpolate_between_the_closest_ranks() -> None:
    one_to_twenty = [float(s) for s in range(1, 21)]
    assert saga_views.median_and_p95(one_to_twenty) == (10.5, pytest.approx(19.05))
    assert saga_views.median_and_p95([4.0, 1.0, 2.0]) == (2.0, pytest.approx(3.8))
    assert saga_views.median_and_p95([7.0]) == (7.0, 7.0)
    assert saga_views.median_and_p95([]) == (None, None)


def test_a_steps_times_are_the_median_and_p95_of_ended_minus_started(
        store: Store, rows: Rows) -> None:
    for i in range(1, 21):
        rows.saga(f"o{i}", "COMPLETED")
        rows.step(f"o{i}", "reserve_tickets", took=i / 10, outcome="reserved")
    rows.saga("live", "STARTED")
    rows.step("live", "reserve_tickets", took=None)  # still running: no duration yet

    figures = saga_views.step_figures(store.engine, ["reserve_tickets"])["reserve_tickets"]

    assert figures.median_s == pytest.approx(1.05)
    assert figures.p95_s == pytest.approx(1.905)
    assert (figures.now, figures.passed, figures.failed) == (1, 20, 0)


def test_durations_come_from_the_most_recent_finished_runs_only(
        store: Store, rows: Rows) -> None:
    rows.saga("old", "COMPLETED")
    rows.step("old", "await_payment", took=100.0, outcome="approved", ended_ago=3600)
    for i in range(3):
        rows.saga(f"new{i}", "COMPLETED")
        rows.step(f"new{i}", "await_payment", took=2.0, outcome="approved", ended_ago=i)

    assert saga_views.step_durations(store.engine, "await_payment", sample=3) == [2.0, 2.0, 2.0]


def test_failures_are_counted_at_the_step_where_the_saga_turned_back(
        store: Store, rows: Rows) -> None:
    rows.saga("rejected", "REJECTED")
    rows.step("rejected", "reserve_tickets", 0.1, "out_of_stock")
    rows.saga("declined", "PAYMENT_FAILED")
    rows.step("declined", "reserve_tickets", 0.1, "reserved")
    rows.step("declined", "await_payment", 3.0, "declined")
    rows.saga("timed-out", "PAYMENT_FAILED")
    rows.step("timed-out", "await_payment", 4.0, "gave up")
    rows.saga("paid", "COMPLETED")
    rows.step("paid", "await_payment", 1.0, "approved")
    rows.step("paid", "finalise_order", 0.1, "failed")  # failed for good, technically

    figures = saga_views.step_figures(
        store.engine, ["reserve_tickets", "await_payment", "finalise_order", "fail_order"])

    assert (figures["reserve_tickets"].passed, figures["reserve_tickets"].failed) == (1, 1)
    assert (figures["await_payment"].passed, figures["await_payment"].failed) == (1, 2)
    assert (figures["finalise_order"].passed, figures["finalise_order"].failed) == (0, 1)
    assert figures["fail_order"] == saga_views.StepFigures("fail_order")


def test_sagas_in_a_step_now_are_the_live_sagas_whose_state_puts_them_there(
        store: Store, rows: Rows) -> None:
    rows.saga("waiting", "AWAITING_PAYMENT", deadline_in=30)
    rows.step("waiting", "await_payment", took=None)
    rows.saga("gone", "PAYMENT_FAILED")  # a step left open by a saga that finished otherwise
    rows.step("gone", "await_payment", took=None)
    rows.saga("reserving", "STARTED")  # its first attempt is running: no record yet
    rows.saga("releasing", "COMPENSATING")
    rows.saga("failing", "COMPENSATING")
    rows.step("failing", "release_reservation", 0.1, "released")

    steps = ["await_payment", "reserve_tickets", "release_reservation", "fail_order"]
    figures = saga_views.step_figures(store.engine, steps)
    assert [figures[step].now for step in steps] == [1, 1, 1, 1]


def test_counts_by_state_name_every_state_zero_included(store: Store, rows: Rows) -> None:
    rows.saga("a", "COMPLETED")
    rows.saga("b", "COMPLETED")
    rows.saga("c", "REJECTED")

    counts = saga_views.counts_by_state(store.engine)

    assert counts["COMPLETED"] == 2 and counts["REJECTED"] == 1
    assert counts["PAYMENT_FAILED"] == 0 and len(counts) == 8


def needing_a_person(rows: Rows) -> None:
    rows.saga("stuck", "RESERVED", touched_ago=120)
    rows.saga("fresh", "RESERVED", touched_ago=5)
    rows.saga("waiting", "AWAITING_PAYMENT", touched_ago=120, deadline_in=60)
    rows.saga("wait-overdue", "AWAITING_PAYMENT", touched_ago=300, deadline_in=-120)
    rows.saga("done-long-ago", "COMPLETED", touched_ago=3600)
    rows.saga("retrying", "RESERVED", touched_ago=1)
    rows.step("retrying", "request_payment", took=None, attempts=3)
    rows.saga("retried-fine", "COMPLETED", touched_ago=1)
    rows.step("retried-fine", "request_payment", took=2.0, outcome="payment pending", attempts=3)
    rows.saga("failed", "PAYMENT_FAILED", touched_ago=1)
    rows.step("failed", "request_payment", took=9.0, outcome="failed", attempts=10)
    rows.saga("parked", "COMPENSATING", touched_ago=2, parked=True)


@pytest.mark.parametrize(("needs", "expected"), [
    ("stuck", {"stuck", "wait-overdue"}),
    ("retrying", {"retrying"}),
    ("failed", {"failed", "parked"}),
    ("any", {"stuck", "wait-overdue", "retrying", "failed", "parked"}),
])
def test_the_list_filters_the_sagas_that_need_a_person(
        store: Store, rows: Rows, needs: str, expected: set[str]) -> None:
    needing_a_person(rows)

    found = saga_views.find_sagas(store.engine, STUCK_AFTER, needs=needs)

    assert {line.order_id for line in found} == expected
    assert all(needs in line.needs if needs != "any" else line.needs_a_person for line in found)


def test_the_list_filters_by_state_and_shows_the_most_recently_touched_first(
        store: Store, rows: Rows) -> None:
    needing_a_person(rows)

    found = saga_views.find_sagas(store.engine, STUCK_AFTER, state="RESERVED")

    assert [line.order_id for line in found] == ["retrying", "fresh", "stuck"]
    assert [line.needs for line in found] == [("retrying",), (), ("stuck",)]
    assert all(isinstance(line.updated_at, datetime) and line.updated_at.tzinfo for line in found)
    assert saga_views.find_sagas(store.engine, STUCK_AFTER, state="RESERVED", needs="stuck")[0] \
        .order_id == "stuck"


def test_the_reasons_to_need_a_person_are_counted_once_per_saga(
        store: Store, rows: Rows) -> None:
    needing_a_person(rows)

    assert saga_views.needs_a_person_counts(store.engine, STUCK_AFTER) == {
        "stuck": 2, "retrying": 1, "failed": 2}
