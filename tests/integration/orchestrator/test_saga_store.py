"""The saga store on real databases (SQLite, and PostgreSQL when TEST_DATABASE_URL is set)."""

from __future__ import annotations

import threading
from datetime import timedelta
from decimal import Decimal

import pytest

from orchestrator.adapters.store import Move, SagaStore, StepRun, now
from orchestrator.domain.model import OrderLine, OrderPlaced, SagaState

S = SagaState


@pytest.fixture
def store(database_url: str) -> SagaStore:
    store = SagaStore.connect(database_url)
    yield store
    store.engine.dispose()


def order(order_id: str = "o1") -> OrderPlaced:
    return OrderPlaced(order_id, "c1", Decimal("200.00"), (OrderLine("t1", 2),))


def test_a_saga_is_recorded_once_per_order(store: SagaStore) -> None:
    assert store.create_if_absent(order())
    assert not store.create_if_absent(order())
    saga = store.get("o1")
    assert saga.state is S.STARTED and saga.lines == (OrderLine("t1", 2),)
    assert saga.total == Decimal("200.00")


def test_a_transition_happens_only_from_an_allowed_state(store: SagaStore) -> None:
    store.create_if_absent(order())
    assert store.transition("o1", [S.STARTED], S.RESERVED)
    assert not store.transition("o1", [S.STARTED], S.COMPENSATING)
    assert store.get("o1").state is S.RESERVED


def test_of_many_concurrent_transitions_exactly_one_wins(store: SagaStore) -> None:
    store.create_if_absent(order())
    store.transition("o1", [S.STARTED], S.AWAITING_PAYMENT)
    wins: list[bool] = []
    target = [S.APPROVED, S.COMPENSATING] * 8
    threads = [threading.Thread(target=lambda to=to: wins.append(
        store.transition("o1", [S.AWAITING_PAYMENT], to))) for to in target]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert wins.count(True) == 1


def test_a_message_id_is_accepted_once(store: SagaStore) -> None:
    with store.transaction() as tx:
        assert store.record_event_once("e1", "o1", tx)
    with store.transaction() as tx:
        assert not store.record_event_once("e1", "o1", tx)


def test_a_message_id_recorded_in_a_failed_transaction_is_not_remembered(store: SagaStore) -> None:
    with pytest.raises(RuntimeError), store.transaction() as tx:
        store.record_event_once("e1", "o1", tx)
        raise RuntimeError("crash before the transition was stored")
    with store.transaction() as tx:
        assert store.record_event_once("e1", "o1", tx)


def test_steps_count_their_attempts_and_keep_their_outcome(store: SagaStore) -> None:
    store.create_if_absent(order())
    assert store.note_step_error("o1", "reserve_tickets", "inventory down", "task-1") == 1
    store.finish_step("o1", StepRun("reserve_tickets", "reserved", now(), "task-2"))
    (step,) = store.get("o1").steps
    assert (step.attempts, step.outcome, step.error) == (2, "reserved", "inventory down")
    assert step.ended_at >= step.started_at and step.task_id == "task-2"


def test_a_redelivered_attempt_is_counted_once_as_it_begins(store: SagaStore) -> None:
    store.create_if_absent(order())
    assert store.count_attempt("o1", "reserve_tickets", "task-1") == 1
    assert store.count_attempt("o1", "reserve_tickets", "task-1") == 2
    assert store.get("o1").steps[0].ended_at is None
    store.finish_step("o1", StepRun("reserve_tickets", "reserved", now(), "task-1", counted=True))
    (step,) = store.get("o1").steps
    assert (step.attempts, step.outcome) == (2, "reserved")


def test_a_step_and_the_move_it_causes_are_stored_together(store: SagaStore) -> None:
    store.create_if_absent(order())
    run = StepRun("reserve_tickets", "reserved", now())
    assert store.finish_step("o1", run, Move((S.STARTED,), S.RESERVED))
    assert store.current("o1").state is S.RESERVED
    # A late duplicate finds the saga moved on: its record is kept, the saga stays.
    assert not store.finish_step("o1", run, Move((S.STARTED,), S.COMPENSATING))
    saga = store.get("o1")
    assert saga.state is S.RESERVED and saga.steps[0].attempts == 2


def test_a_move_can_open_the_step_that_follows(store: SagaStore) -> None:
    store.create_if_absent(order())
    store.transition("o1", [S.STARTED], S.RESERVED)
    store.finish_step("o1", StepRun("request_payment", "payment pending", now()),
                      Move((S.RESERVED,), S.AWAITING_PAYMENT), opens="await_payment")
    steps = {step.name: step for step in store.get("o1").steps}
    assert steps["await_payment"].ended_at is None and steps["await_payment"].attempts == 1


def test_the_reconciler_finds_sagas_that_stopped_moving_but_not_those_waiting(
        store: SagaStore) -> None:
    store.create_if_absent(order("moving"))
    store.create_if_absent(order("waiting"))
    store.transition("waiting", [S.STARTED], S.AWAITING_PAYMENT)
    assert store.stuck(timedelta(seconds=-1)) == ["moving"]
    assert store.stuck(timedelta(hours=1)) == []


def test_a_wait_past_its_deadline_is_found(store: SagaStore) -> None:
    store.create_if_absent(order("late"))
    store.create_if_absent(order("early"))
    store.transition("late", [S.STARTED], S.AWAITING_PAYMENT,
                     payment_deadline=now() - timedelta(seconds=1))
    store.transition("early", [S.STARTED], S.AWAITING_PAYMENT,
                     payment_deadline=now() + timedelta(hours=1))
    assert store.payment_wait_expired() == ["late"]


def test_a_persons_retry_counts_the_attempts_of_unfinished_steps_afresh(store: SagaStore) -> None:
    store.create_if_absent(order())
    store.finish_step("o1", StepRun("reserve_tickets", "reserved", now()))
    store.count_attempt("o1", "request_payment", None)
    store.count_attempt("o1", "request_payment", None)
    store.restart_unfinished_steps("o1")
    attempts = {step.name: step.attempts for step in store.get("o1").steps}
    assert attempts == {"reserve_tickets": 1, "request_payment": 0}


def test_the_reconcilers_passes_are_counted_with_what_they_repaired(store: SagaStore) -> None:
    assert store.reconciler_passes() is None
    store.record_reconciler_pass({"driven": 0, "checked": 0, "voided": 0, "started": 0})
    first = store.reconciler_passes()
    assert first.passes == 1 and first.last_repair_at is None and first.last_repairs == {}
    store.record_reconciler_pass({"driven": 2, "checked": 0, "voided": 1, "started": 0})
    store.record_reconciler_pass({"driven": 0, "checked": 0, "voided": 0, "started": 0})
    passes = store.reconciler_passes()
    assert passes.passes == 3 and passes.last_pass_at >= first.last_pass_at
    assert passes.last_repairs == {"driven": 2, "checked": 0, "voided": 1, "started": 0}
    assert passes.last_repair_at is not None and passes.last_repair_at < passes.last_pass_at
    assert passes.totals == {"driven": 2, "checked": 0, "voided": 1, "started": 0}


def test_passes_recorded_at_once_are_all_counted(store: SagaStore) -> None:
    threads = [threading.Thread(target=store.record_reconciler_pass,
                                args=({"driven": 1, "checked": 0, "voided": 0, "started": 0},))
               for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    passes = store.reconciler_passes()
    assert (passes.passes, passes.totals["driven"]) == (6, 6)


def test_stuck_means_the_same_to_the_reconciler_the_dashboard_and_the_command_line(
        store: SagaStore) -> None:
    from orchestrator.adapters.saga_views import find_sagas

    for order_id in ("in-step", "waiting", "waited-too-long", "parked", "done"):
        store.create_if_absent(order(order_id))
    store.transition("in-step", [S.STARTED], S.RESERVED)
    store.transition("waiting", [S.STARTED], S.AWAITING_PAYMENT,
                     payment_deadline=now() + timedelta(hours=1))
    store.transition("waited-too-long", [S.STARTED], S.AWAITING_PAYMENT,
                     payment_deadline=now() - timedelta(hours=1))
    store.transition("parked", [S.STARTED], S.RESERVED, parked=True)
    store.transition("done", [S.STARTED], S.COMPLETED)
    idle = timedelta(seconds=-1)   # every saga was last touched "long" ago

    by_the_command_line = {saga.order_id for saga in store.list(stuck_after=idle)}
    on_the_dashboard = {line.order_id for line in find_sagas(store.engine, idle, needs="stuck")}
    assert by_the_command_line == on_the_dashboard == {"in-step", "waited-too-long", "parked"}
    # The reconciler drives the stuck sagas in a step; a wait past its deadline it checks with
    # the payment service instead, and a parked saga is a person's.
    assert store.stuck(idle) == ["in-step"]
    assert store.payment_wait_expired() == ["waited-too-long"]
