"""The saga store on real databases (SQLite, and PostgreSQL when TEST_DATABASE_URL is set): the
repository under the unit of work, the reconciler's queries, the counters."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from typing import Any
from datetime import timedelta
from decimal import Decimal

import pytest
from sqlalchemy import select

from glastonbury.clock import utc_now as now
from orchestrator.adapters import counters, reconciler_queries as queries, saga_list
from orchestrator.adapters.tables import DURATION_BUCKETS, saga_steps, sagas, step_totals
from orchestrator.domain.flow import SAGA
from orchestrator.domain.model import OrderLine, OrderPlaced, SagaState
from orchestrator.domain.saga import Saga, StepRun
from orchestrator.domain.steps import (AWAIT_PAYMENT, CHECK_PAYMENT, FINALISE_ORDER,
                                       REQUEST_PAYMENT, RESERVE_TICKETS, Outcome, StepDeclaration)
from orchestrator.service_layer.unit_of_work import SqlAlchemyUnitOfWork
from tests.conftest import fresh_postgres_database
from tests.unit.orchestrator.store import Store

S = SagaState
DEADLINE = now() + timedelta(minutes=5)


@pytest.fixture
def store(database_url: str) -> Iterator[Store]:
    store = Store.at(database_url)
    yield store
    store.dispose()


def order(order_id: str = "o1") -> OrderPlaced:
    return OrderPlaced(order_id, "c1", Decimal("200.00"), (OrderLine("t1", 2),))


def took(saga: Saga, step: StepDeclaration, outcome: str) -> Saga:
    row = SAGA.row(step, saga.state, outcome)
    assert row is not None
    saga.take(row, Outcome(outcome), DEADLINE)
    return saga


def saved(store: Store, saga: Saga, run: StepRun | None = None) -> bool:
    """As a step stores its move and its record (runner._store)."""
    with SqlAlchemyUnitOfWork(store.engine, one_write=True) as uow:
        stored = uow.sagas.save(saga, run)
        uow.commit()
    return stored


def current(store: Store, order_id: str = "o1") -> Saga:
    saga = store.current(order_id)
    assert saga is not None
    return saga


def test_a_saga_is_recorded_once_per_order(store: Store) -> None:
    assert store.add(order())
    assert not store.add(order())
    saga = store.get("o1")
    assert saga is not None and saga.state is S.STARTED and saga.lines == (OrderLine("t1", 2),)
    assert saga.total == Decimal("200.00")


def test_a_move_is_stored_only_from_the_state_the_saga_was_read_in(store: Store) -> None:
    store.add(order())
    late = current(store)   # read before the other move was stored
    assert saved(store, took(current(store), RESERVE_TICKETS, "reserved"))
    assert not saved(store, took(late, RESERVE_TICKETS, "refused"))
    assert current(store).state is S.RESERVED and current(store).outcome is None


def test_of_many_concurrent_moves_exactly_one_wins(store: Store) -> None:
    store.add(order())
    store.put("o1", S.AWAITING_PAYMENT)
    read = [current(store) for _ in range(16)]
    wins: list[bool] = []
    threads = [threading.Thread(target=lambda saga=saga, outcome=outcome: wins.append(
        saved(store, took(saga, CHECK_PAYMENT, outcome))))
        for saga, outcome in zip(read, ["approved", "declined"] * 8, strict=True)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert wins.count(True) == 1


def test_a_message_id_is_accepted_once(store: Store) -> None:
    with store.repository() as sagas:
        assert sagas.record_event_once("e1", "o1")
    with store.repository() as sagas:
        assert not sagas.record_event_once("e1", "o1")


def test_a_message_id_recorded_in_a_failed_transaction_is_not_remembered(store: Store) -> None:
    with pytest.raises(RuntimeError), SqlAlchemyUnitOfWork(store.engine) as uow:
        uow.sagas.record_event_once("e1", "o1")
        raise RuntimeError("crash before the move was stored")
    with store.repository() as sagas:
        assert sagas.record_event_once("e1", "o1")


def test_steps_count_their_attempts_and_keep_their_outcome(store: Store) -> None:
    store.add(order())
    with store.repository() as sagas:
        assert sagas.note_step_error("o1", "reserve_tickets", "inventory down", "task-1") == 1
    store.record_step("o1", StepRun("reserve_tickets", "reserved", now(), "task-2"))
    (step,) = store.get("o1").steps  # type: ignore[union-attr]
    assert (step.attempts, step.outcome, step.error) == (2, "reserved", "inventory down")
    assert step.ended_at >= step.started_at and step.task_id == "task-2"  # type: ignore[operator]


def test_a_redelivered_attempt_is_counted_once_as_it_begins(store: Store) -> None:
    store.add(order())
    with store.repository() as sagas:
        assert sagas.count_attempt("o1", "reserve_tickets", "task-1") == 1
        assert sagas.count_attempt("o1", "reserve_tickets", "task-1") == 2
    assert store.get("o1").steps[0].ended_at is None  # type: ignore[union-attr]
    store.record_step("o1", StepRun("reserve_tickets", "reserved", now(), "task-1",
                                    counted=True))
    (step,) = store.get("o1").steps  # type: ignore[union-attr]
    assert (step.attempts, step.outcome) == (2, "reserved")


def test_a_step_and_the_move_it_causes_are_stored_together(store: Store) -> None:
    store.add(order())
    late = current(store)
    run = StepRun("reserve_tickets", "reserved", now())
    assert saved(store, took(current(store), RESERVE_TICKETS, "reserved"), run)
    assert current(store).state is S.RESERVED
    # A late duplicate finds the saga moved on: its record is kept, the saga stays.
    assert not saved(store, took(late, RESERVE_TICKETS, "refused"), run)
    saga = store.get("o1")
    assert saga is not None and saga.state is S.RESERVED and saga.steps[0].attempts == 2


def test_asking_for_the_payment_opens_the_wait_and_its_result_ends_it(store: Store) -> None:
    store.add(order())
    store.put("o1", S.RESERVED)
    saved(store, took(current(store), REQUEST_PAYMENT, "requested"),
          StepRun("request_payment", "payment pending", now()))
    steps = {step.name: step for step in store.get("o1").steps}  # type: ignore[union-attr]
    assert steps["await_payment"].ended_at is None and steps["await_payment"].attempts == 1
    assert current(store).payment_deadline == DEADLINE
    saved(store, took(current(store), CHECK_PAYMENT, "approved"))
    steps = {step.name: step for step in store.get("o1").steps}  # type: ignore[union-attr]
    assert steps["await_payment"].outcome == "approved" and steps["await_payment"].ended_at


def test_the_reconciler_finds_sagas_that_stopped_moving_but_not_those_waiting(
        store: Store) -> None:
    store.add(order("moving"))
    store.add(order("waiting"))
    store.put("waiting", S.AWAITING_PAYMENT)
    assert queries.stuck_sagas(store.engine, timedelta(seconds=-1)) == ["moving"]
    assert queries.stuck_sagas(store.engine, timedelta(hours=1)) == []


def test_a_wait_past_its_deadline_is_found(store: Store) -> None:
    store.add(order("late"))
    store.add(order("early"))
    store.put("late", S.AWAITING_PAYMENT, payment_deadline=now() - timedelta(seconds=1))
    store.put("early", S.AWAITING_PAYMENT, payment_deadline=now() + timedelta(hours=1))
    assert queries.payment_waits_expired(store.engine) == ["late"]


def test_a_persons_retry_counts_the_attempts_of_unfinished_steps_afresh(store: Store) -> None:
    store.add(order())
    store.record_step("o1", StepRun("reserve_tickets", "reserved", now()))
    with store.repository() as sagas:
        sagas.count_attempt("o1", "request_payment", None)
        sagas.count_attempt("o1", "request_payment", None)
    with store.repository() as sagas:
        sagas.restart_unfinished_steps("o1")
    attempts = {step.name: step.attempts for step in store.get("o1").steps}  # type: ignore[union-attr]
    assert attempts == {"reserve_tickets": 1, "request_payment": 0}


def test_the_reconcilers_passes_are_counted_with_what_they_repaired(store: Store) -> None:
    engine = store.engine
    assert counters.reconciler_passes_so_far(engine) is None
    counters.record_reconciler_pass(engine, {"driven": 0, "checked": 0, "voided": 0,
                                             "started": 0})
    first = counters.reconciler_passes_so_far(engine)
    assert first is not None
    assert first.passes == 1 and first.last_repair_at is None and first.last_repairs == {}
    counters.record_reconciler_pass(engine, {"driven": 2, "checked": 0, "voided": 1,
                                             "started": 0})
    counters.record_reconciler_pass(engine, {"driven": 0, "checked": 0, "voided": 0,
                                             "started": 0})
    passes = counters.reconciler_passes_so_far(engine)
    assert passes is not None
    assert passes.passes == 3 and passes.last_pass_at >= first.last_pass_at
    assert passes.last_repairs == {"driven": 2, "checked": 0, "voided": 1, "started": 0}
    assert passes.last_repair_at is not None and passes.last_repair_at < passes.last_pass_at
    assert passes.totals == {"driven": 2, "checked": 0, "voided": 1, "started": 0}


def test_passes_recorded_at_once_are_all_counted(store: Store) -> None:
    threads = [threading.Thread(target=counters.record_reconciler_pass,
                                args=(store.engine, {"driven": 1, "checked": 0, "voided": 0,
                                                     "started": 0}))
               for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    passes = counters.reconciler_passes_so_far(store.engine)
    assert passes is not None and (passes.passes, passes.totals["driven"]) == (6, 6)


def test_stuck_means_the_same_to_the_reconciler_the_dashboard_and_the_command_line(
        store: Store) -> None:
    from orchestrator.adapters.saga_views import find_sagas

    for order_id in ("in-step", "waiting", "waited-too-long", "parked", "done"):
        store.add(order(order_id))
    store.put("in-step", S.RESERVED)
    store.put("waiting", S.AWAITING_PAYMENT, payment_deadline=now() + timedelta(hours=1))
    store.put("waited-too-long", S.AWAITING_PAYMENT, payment_deadline=now() - timedelta(hours=1))
    store.put("parked", S.RESERVED, parked=True)
    store.put("done", S.COMPLETED)
    idle = timedelta(seconds=-1)   # every saga was last touched "long" ago

    by_the_command_line = {saga.order_id for saga in saga_list.list_sagas(store.engine,
                                                                           stuck_after=idle)}
    on_the_dashboard = {line.order_id for line in find_sagas(store.engine, idle, needs="stuck")}
    assert by_the_command_line == on_the_dashboard == {"in-step", "waited-too-long", "parked"}
    # The reconciler drives the stuck sagas in a step; a wait past its deadline it checks with
    # the payment service instead, and a parked saga is a person's.
    assert queries.stuck_sagas(store.engine, idle) == ["in-step"]
    assert queries.payment_waits_expired(store.engine) == ["waited-too-long"]


def test_on_postgresql_a_step_written_in_one_statement_stores_what_its_statements_one_by_one_do(
        postgresql_url: str) -> None:
    """`one_round_trip` against the repository's own statements, on two fresh databases of one
    server: a saga paid for and finished, a late duplicate of a step, a declined one turned
    back, a redelivered step; every row of the three tables the same but for the clock."""
    def one_statement(uow: SqlAlchemyUnitOfWork, saga: Saga, run: StepRun | None) -> bool:
        return uow.sagas.save(saga, run)

    def one_by_one(uow: SqlAlchemyUnitOfWork, saga: Saga, run: StepRun | None) -> bool:
        stored = uow.sagas._save(saga.order_id, saga.move, now())   # the SQLite path
        if run is not None:
            uow.sagas.record_step(saga.order_id, run)
        return stored

    with fresh_postgres_database() as other_url:
        stores = {one_statement: Store.at(postgresql_url), one_by_one: Store.at(other_url)}
        try:
            rows = {write.__name__: a_sale(store, write) for write, store in stores.items()}
        finally:
            for store in stores.values():
                store.dispose()
    assert rows["one_statement"] == rows["one_by_one"]
    assert rows["one_statement"]["stored"] == [True, True, False, True, True, True, True]


def a_sale(store: Store, write: Any) -> dict[str, Any]:
    stored = []

    def step(order_id: str, declared: StepDeclaration | None, outcome: str,
             run: StepRun | None = None, saga: Saga | None = None) -> Saga:
        saga = saga or current(store, order_id)
        if declared is not None:
            took(saga, declared, outcome)
        with SqlAlchemyUnitOfWork(store.engine, one_write=True) as uow:
            stored.append(write(uow, saga, run))
            uow.commit()
        return saga

    store.add(order("paid"))
    late = current(store, "paid")
    step("paid", RESERVE_TICKETS, "reserved", StepRun("reserve_tickets", "reserved", now(), "t1"))
    step("paid", REQUEST_PAYMENT, "requested",
         StepRun("request_payment", "payment pending", now(), "t2", error="a blip first"))
    step("paid", None, "", StepRun("reserve_tickets", "refused", now(), "t1", counted=True),
         saga=took(late, RESERVE_TICKETS, "refused"))
    step("paid", AWAIT_PAYMENT, "approved")   # the bridge's: the wait ends, no task ran
    step("paid", FINALISE_ORDER, "completed", StepRun("finalise_order", "completed", now()))
    store.add(order("declined"))
    step("declined", RESERVE_TICKETS, "reserved", StepRun("reserve_tickets", "reserved", now()))
    step("declined", CHECK_PAYMENT, "declined",
         StepRun("check_payment", "declined", now(), "t9", counted=True))
    with store.transaction() as connection:
        return {
            "stored": stored,
            "sagas": sorted(tuple(row)[:-2] + (row.payment_deadline is None,) for row in
                            connection.execute(select(sagas).order_by(sagas.c.order_id))),
            "steps": sorted((row.order_id, row.name, row.ended_at is None, row.attempts,
                             row.outcome, row.error, row.task_id)
                            for row in connection.execute(select(saga_steps))),
            "totals": sorted((row.name, row.passed, row.failed, sum(
                getattr(row, f"within_{index}") for index in range(len(DURATION_BUCKETS) + 1)))
                for row in connection.execute(select(step_totals)))}
