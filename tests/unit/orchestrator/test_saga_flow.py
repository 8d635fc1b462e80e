"""The whole flow in one process through its Celery tasks: Celery in eager mode, fake services,
a real SQLite store, all handed in as the worker's parts."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import select

from glastonbury import tracing
from glastonbury.contracts.limits import REASON_MAX_LENGTH
from glastonbury.signing import signed
from orchestrator.adapters import saga_list
from orchestrator.adapters.repository import SagaRepository, connect
from orchestrator.adapters.step_queue import CeleryDispatch
from orchestrator.adapters.tables import dead_letters
from orchestrator.bootstrap import bootstrap
from orchestrator.domain.model import PaymentDecided, SagaState
from orchestrator.domain.saga import Saga
from orchestrator.domain.steps import REQUEST_PAYMENT
from orchestrator.entrypoints import saga_tasks
from orchestrator.entrypoints.celery_app import app
from orchestrator.service_layer.parts import Parts
from orchestrator.service_layer.runner import read, record_payment_results
from tests.conftest import Spans
from tests.unit.orchestrator.fakes import FakeInventory, FakeOrders, FakePayments

S = SagaState
TICKET = "ticket-1"
KEY = "the order service's key"


@pytest.fixture
def world(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Parts]:
    monkeypatch.setenv("STEP_RETRY_DELAY", "0")
    monkeypatch.setenv("STEP_MAX_ATTEMPTS", "3")
    monkeypatch.setenv("ORDER_MESSAGES_SIGNING_KEY", KEY)
    saga_tasks.signing_key.cache_clear()
    app.conf.task_always_eager = True
    parts = bootstrap(CeleryDispatch(app), connect(f"sqlite:///{tmp_path / 'saga.db'}"),
                      inventory=FakeInventory({TICKET: 5}), payments=FakePayments(),
                      orders=FakeOrders())
    saga_tasks.serve(parts)
    yield parts
    app.conf.task_always_eager = False
    saga_tasks.serve(None)


def place(world: Parts, order_id: str, quantity: int = 1, price: str = "200.00") -> None:
    """Start the order's saga as the order service does: signed, with the error callback."""
    world.dispatch.start(
        {"version": 1, "orderId": order_id, "customerId": "c",
         "total": f"{int(float(price)) * quantity}.00",
         "items": [{"ticketId": TICKET, "quantity": quantity, "amount": price}]})


def saga_of(world: Parts, order_id: str) -> Saga:
    found = saga_list.timeline(world.engine, order_id)
    assert found is not None
    return found


def decide(world: Parts, order_id: str, approved: bool, event_id: str = "e1") -> None:
    record_payment_results(world, [PaymentDecided(event_id, order_id, approved,
                                           None if approved else "no")])


def test_an_order_waits_for_its_payment_without_running_anything(world: Parts) -> None:
    place(world, "o1")
    assert saga_of(world, "o1").state is S.AWAITING_PAYMENT
    assert world.inventory.stock[TICKET] == 4
    assert world.payments.payments["o1"] == "PENDING"


def test_an_approved_payment_confirms_and_completes(world: Parts) -> None:
    place(world, "o1")
    decide(world, "o1", approved=True)
    assert saga_of(world, "o1").state is S.COMPLETED
    assert world.inventory.reservations["o1"][0] == "CONFIRMED"
    assert world.orders.outcomes["o1"] == ("COMPLETED", None)


def test_a_declined_payment_releases_the_tickets_and_fails_the_order(world: Parts) -> None:
    place(world, "o1", quantity=2)
    decide(world, "o1", approved=False)
    assert saga_of(world, "o1").state is S.PAYMENT_FAILED
    assert world.inventory.stock[TICKET] == 5
    assert world.orders.outcomes["o1"][0] == "PAYMENT_FAILED"


def test_out_of_stock_rejects_without_asking_for_a_payment(world: Parts) -> None:
    place(world, "o1", quantity=6)
    assert saga_of(world, "o1").state is S.REJECTED
    assert "o1" not in world.payments.payments
    assert world.orders.outcomes["o1"][0] == "REJECTED"


def test_the_same_result_twice_has_one_effect(world: Parts) -> None:
    place(world, "o1")
    decide(world, "o1", approved=True, event_id="same")
    decide(world, "o1", approved=True, event_id="same")
    decide(world, "o1", approved=False, event_id="other")
    assert saga_of(world, "o1").state is S.COMPLETED
    assert world.inventory.stock[TICKET] == 4


def test_a_second_start_of_the_same_order_changes_nothing(world: Parts) -> None:
    place(world, "o1")
    place(world, "o1")
    assert world.inventory.stock[TICKET] == 4


def test_a_technical_failure_is_retried_and_the_saga_goes_on(world: Parts) -> None:
    world.inventory.down = 2
    place(world, "o1")
    saga = saga_of(world, "o1")
    assert saga.state is S.AWAITING_PAYMENT
    assert next(s for s in saga.steps if s.name == "reserve_tickets").attempts == 3


def test_a_payment_request_that_fails_for_good_compensates_with_the_reason(world: Parts) -> None:
    world.payments.down = 3
    place(world, "o1")
    saga = saga_of(world, "o1")
    assert saga.state is S.PAYMENT_FAILED
    assert saga.reason == REQUEST_PAYMENT.gives_up_saying   # in the customer's words
    request = next(step for step in saga.steps if step.name == "request_payment")
    assert "payment down (gave up after 3 attempts)" in request.error   # the failure, for us
    assert world.inventory.stock[TICKET] == 5


def test_a_start_whose_reservation_fails_for_good_turns_back_through_the_error_callback(
        world: Parts) -> None:
    world.inventory.down = 3   # every attempt the policy allows
    place(world, "o1")
    saga = saga_of(world, "o1")
    assert saga.state is S.REJECTED
    assert saga.reason == "The tickets could not be reserved just now; nothing was charged."
    reserve = next(step for step in saga.steps if step.name == "reserve_tickets")
    assert reserve.outcome == "failed" and "inventory down" in reserve.error
    assert world.orders.outcomes["o1"][0] == "REJECTED"


def test_a_step_tried_too_often_is_parked_for_a_person(world: Parts,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SAGA_STEP_ATTEMPT_LIMIT", "2")
    world.inventory.down = 10
    place(world, "o1")  # attempts 1 and 2 fail; the third delivery finds the limit reached
    saga = saga_of(world, "o1")
    assert saga.parked
    assert saga.state is S.STARTED
    assert world.inventory.down == 8


def test_what_follows_a_payment_result_goes_on_in_the_trace_the_result_came_in(
        world: Parts, spans: Spans) -> None:
    place(world, "o1")
    with spans.tracer.start_as_current_span("process payment.results") as bridge:
        came_in = tracing.traceparent()
    record_payment_results(world, [PaymentDecided("e1", "o1", True, None, trace=came_in)])
    assert saga_of(world, "o1").state is S.COMPLETED
    finalised = spans.named("saga.finalise_order")
    assert finalised.parent.span_id == bridge.context.span_id
    assert finalised.context.trace_id == bridge.context.trace_id
    assert finalised.attributes["order.id"] == "o1"


def test_a_long_decline_reason_is_cut_so_the_order_service_can_store_it(world: Parts) -> None:
    place(world, "o1")
    record_payment_results(world, [PaymentDecided("e1", "o1", False, "x" * 2000 + "\x00")])
    saga = saga_of(world, "o1")
    assert saga.state is S.PAYMENT_FAILED
    assert len(saga.reason) <= REASON_MAX_LENGTH and "\x00" not in saga.reason
    assert saga.reason.endswith("…")


def test_the_wait_of_a_declined_payment_ends_as_declined_in_the_timeline(world: Parts) -> None:
    place(world, "o1")
    decide(world, "o1", approved=False)
    wait = next(s for s in saga_of(world, "o1").steps if s.name == "await_payment")
    assert wait.outcome == "declined"


def test_a_blip_of_the_saga_store_is_retried_not_compensated(
        world: Parts, monkeypatch: pytest.MonkeyPatch) -> None:
    from sqlalchemy.exc import OperationalError

    real_save, failures = SagaRepository.save, {"left": 2}

    def flaky_save(*args, **kwargs):  # type: ignore[no-untyped-def]
        if failures["left"]:
            failures["left"] -= 1
            raise OperationalError("UPDATE sagas", {}, Exception("database is locked"))
        return real_save(*args, **kwargs)

    monkeypatch.setattr(SagaRepository, "save", flaky_save)
    place(world, "o1")
    assert saga_of(world, "o1").state is S.AWAITING_PAYMENT
    assert world.inventory.stock[TICKET] == 4   # reserved once (the retries found it held)


def test_an_order_with_nothing_to_pay_completes_without_a_payment(world: Parts) -> None:
    place(world, "free", quantity=2, price="0.00")
    saga = saga_of(world, "free")
    assert saga.state is S.COMPLETED
    assert [step.name for step in saga.steps] == ["reserve_tickets", "finalise_order"]
    assert "free" not in world.payments.payments  # type: ignore[attr-defined]
    assert world.inventory.reservations["free"][0] == "CONFIRMED"  # type: ignore[attr-defined]


def test_an_order_message_the_order_service_did_not_sign_starts_no_saga(world: Parts) -> None:
    forged = {"version": 1, "orderId": "forged", "customerId": "c", "total": "0.00",
              "items": [{"ticketId": TICKET, "quantity": 2, "amount": "0.00"}]}
    for message in (forged, signed(forged, "another key"),
                    {**signed({**forged, "total": "400.00", "items": [
                        {"ticketId": TICKET, "quantity": 2, "amount": "200.00"}]}, KEY),
                     "total": "0.00"}):
        assert saga_tasks.start.delay(message).get() == "refused: not signed by the order service"
    assert read(world, "forged") is None
    assert world.inventory.stock[TICKET] == 5
    with world.engine.connect() as connection:
        counted = dict(connection.execute(select(dead_letters.c.kind, dead_letters.c.count)).all())
    assert counted == {"unsigned_order": 3}


def test_a_paid_saga_takes_three_hops_and_one_read_and_one_write_of_the_store_a_step(
        world: Parts) -> None:
    from celery.signals import task_prerun
    from sqlalchemy import event

    hops: list[str] = []
    counted = {"transactions": 0, "statements": 0}

    def hop(task: object = None, **_: object) -> None:
        hops.append(task.name)  # type: ignore[attr-defined]

    def statement(_connection: object, _cursor: object, sql: str, *_: object) -> None:
        counted["statements"] += not sql.startswith("BEGIN")

    def transaction(_connection: object) -> None:
        counted["transactions"] += 1

    task_prerun.connect(hop, weak=False)
    event.listen(world.engine, "before_cursor_execute", statement)
    event.listen(world.engine, "begin", transaction)
    try:
        place(world, "o1")
        decide(world, "o1", approved=True)
    finally:
        task_prerun.disconnect(hop)
        event.remove(world.engine, "before_cursor_execute", statement)
        event.remove(world.engine, "begin", transaction)
    assert saga_of(world, "o1").state is S.COMPLETED
    assert hops == ["saga.start", "saga.request_payment", "saga.finalise_order"]
    # The start records the saga (1) and its reserve writes (1); the request and the finalising
    # read (1) and write (1) each; the bridge stores the result (1). Statements: the saga's
    # insert; 3 reads of its row; each write's compare-and-set, its step's record and totals;
    # the wait's record opened, then ended with its totals; the result's message id.
    assert counted == {"transactions": 7, "statements": 18}
