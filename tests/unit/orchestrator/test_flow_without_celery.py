"""The runner's plain functions, called as a worker would call them but without Celery: the parts
are handed in (fake services, a real SQLite store) and the dispatcher only notes the plans."""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

import pytest

from orchestrator.adapters import saga_list
from orchestrator.adapters.repository import connect
from orchestrator.bootstrap import bootstrap
from orchestrator.domain.exceptions import ContractBroken, ServiceUnavailable
from orchestrator.domain.model import OrderLine, PaymentDecided, SagaState
from orchestrator.domain.saga import Saga
from orchestrator.service_layer import runner as flow
from orchestrator.service_layer.parts import Parts
from orchestrator.service_layer.runner import Attempt
from tests.unit.orchestrator.fakes import (FakeInventory, FakeOrders, FakePayments,
                                           RecordingDispatch)

S = SagaState
TICKET = "ticket-1"


@pytest.fixture
def parts(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Parts]:
    for name in ("STEP_MAX_ATTEMPTS", "STEP_RETRY_DELAY", "STEP_RETRY_MAX_DELAY"):
        monkeypatch.delenv(name, raising=False)
    engine = connect(f"sqlite:///{tmp_path / 'saga.db'}")
    yield bootstrap(RecordingDispatch(), engine, inventory=FakeInventory({TICKET: 5}),
                    payments=FakePayments(), orders=FakeOrders())
    engine.dispose()


def saga_of(parts: Parts, order_id: str) -> Saga:
    found = saga_list.timeline(parts.engine, order_id)
    assert found is not None
    return found


def sent(parts: Parts) -> list[str]:
    return parts.dispatch.sent  # type: ignore[attr-defined, no-any-return]


def order(order_id: str = "o1", quantity: int = 1) -> dict:
    return {"version": 1, "orderId": order_id, "customerId": "c", "total": f"{200 * quantity}.00",
            "items": [{"ticketId": TICKET, "quantity": quantity, "amount": "200.00"}]}


def test_the_start_reserves_at_once_and_plans_the_payment_request(parts: Parts) -> None:
    ran = flow.start(parts, order(), Attempt("t1"))
    assert ran.outcome == "reserved" and ran.retry_in is None
    assert saga_of(parts, "o1").state is S.RESERVED
    assert sent(parts) == ["run request_payment"]


def test_each_step_of_a_plan_runs_as_a_plain_call(parts: Parts) -> None:
    flow.start(parts, order(), Attempt("t1"))
    ran = flow.run(parts, "request_payment", "o1", Attempt("t2"))
    assert ran.outcome == "payment pending" and not ran.chain_goes_on   # the saga moved
    assert saga_of(parts, "o1").state is S.AWAITING_PAYMENT
    assert sent(parts) == ["run request_payment"]   # nothing runs while it waits
    flow.record_payment_results(parts, [PaymentDecided("e1", "o1", True, None)])
    assert sent(parts)[-1] == "run finalise_order"
    flow.run(parts, "finalise_order", "o1", Attempt("t3"))
    assert saga_of(parts, "o1").state is S.COMPLETED
    assert parts.orders.outcomes["o1"] == ("COMPLETED", None)  # type: ignore[attr-defined]


def test_a_step_out_of_its_states_does_nothing_and_ends_its_chain(parts: Parts) -> None:
    flow.start(parts, order(), Attempt("t1"))
    ran = flow.run(parts, "finalise_order", "o1", Attempt("t2"))
    assert ran.outcome == "skipped: saga is RESERVED" and not ran.chain_goes_on


def test_out_of_stock_turns_the_saga_back_and_plans_the_compensation(parts: Parts) -> None:
    ran = flow.start(parts, order(quantity=6), Attempt("t1"))
    assert ran.outcome == "out_of_stock" and not ran.chain_goes_on
    assert saga_of(parts, "o1").state is S.COMPENSATING
    assert sent(parts) == ["run release_reservation, fail_order"]


def test_a_service_down_asks_for_a_retry_after_the_declared_delay(parts: Parts) -> None:
    parts.inventory.down = 1  # type: ignore[attr-defined]
    ran = flow.start(parts, order(), Attempt("t1"))
    assert ran.retry_in is not None and 0.5 <= ran.retry_in <= 1.0   # CALLS_A_SERVICE: 1 s
    assert saga_of(parts, "o1").state is S.STARTED and sent(parts) == []
    assert flow.start(parts, order(), Attempt("t1", retries=1)).outcome == "reserved"


def test_the_last_declared_attempt_gives_up_to_the_error_callback_which_turns_the_saga_back(
        parts: Parts) -> None:
    parts.inventory.down = 1  # type: ignore[attr-defined]
    with pytest.raises(ServiceUnavailable, match="gave up after 5 attempts") as failed:
        flow.start(parts, order(), Attempt("t5", retries=4))
    assert saga_of(parts, "o1").state is S.STARTED and sent(parts) == []   # the start: no
    flow.give_up(parts, "reserve_tickets", "o1", failed.value, "t5")      # give-up of its own
    saga = saga_of(parts, "o1")
    assert saga.state is S.COMPENSATING and saga.outcome is S.REJECTED
    assert sent(parts) == ["run release_reservation, fail_order"]


def test_a_broken_contract_is_never_retried(parts: Parts,
                                            monkeypatch: pytest.MonkeyPatch) -> None:
    flow.start(parts, order(), Attempt("t1"))

    def broken(*_: object) -> str:
        raise ContractBroken("POST /payments: HTTP 418")

    monkeypatch.setattr(parts.payments, "request", broken)
    with pytest.raises(ContractBroken):
        flow.run(parts, "request_payment", "o1", Attempt("t2"))


def test_a_conflicting_outcome_parks_the_saga_for_a_person(parts: Parts) -> None:
    flow.start(parts, order(), Attempt("t1"))
    flow.run(parts, "request_payment", "o1", Attempt("t2"))
    flow.record_payment_results(parts, [PaymentDecided("e1", "o1", True, None)])
    parts.orders.outcomes["o1"] = ("REJECTED", "by hand")  # type: ignore[attr-defined]
    ran = flow.run(parts, "finalise_order", "o1", Attempt("t3"))
    assert ran.outcome.startswith("parked: ") and not ran.chain_goes_on
    saga = saga_of(parts, "o1")
    assert saga.parked and saga.state is S.APPROVED


def test_an_order_with_nothing_to_pay_goes_from_its_reservation_to_finalising(
        parts: Parts) -> None:
    free = {**order(), "total": "0.00",
            "items": [{"ticketId": TICKET, "quantity": 1, "amount": "0.00"}]}
    ran = flow.start(parts, free, Attempt("t1"))
    assert ran.outcome == "nothing to pay" and not ran.chain_goes_on
    assert saga_of(parts, "o1").state is S.APPROVED
    assert sent(parts) == ["run finalise_order"]
    assert parts.payments.payments == {}  # type: ignore[attr-defined]


def test_a_step_given_up_on_tells_the_customer_in_its_declared_words(parts: Parts) -> None:
    parts.inventory.down = 1  # type: ignore[attr-defined]
    with pytest.raises(ServiceUnavailable) as failed:
        flow.start(parts, order(), Attempt("t5", retries=4))
    flow.give_up(parts, "reserve_tickets", "o1", failed.value, "t5")
    saga = saga_of(parts, "o1")
    assert saga.reason == "The tickets could not be reserved just now; nothing was charged."
    reserve = next(step for step in saga.steps if step.name == "reserve_tickets")
    assert reserve.outcome == "failed" and "inventory down" in reserve.error


# -- a refusal: the customer reads why, the operators the inventory's counts ------------------

def rejected(parts: Parts, order_id: str) -> tuple[str | None, str | None]:
    """The order's reason once its compensation ran, and the reserve step's recorded detail."""
    flow.run(parts, "release_reservation", order_id, Attempt())
    flow.run(parts, "fail_order", order_id, Attempt())
    saga = saga_of(parts, order_id)
    assert saga.state is S.REJECTED
    reserve = next(step for step in saga.steps if step.name == "reserve_tickets")
    return parts.orders.outcomes[order_id][1], reserve.error  # type: ignore[attr-defined]


def test_the_reserve_step_sends_the_customer_and_every_lines_price(parts: Parts) -> None:
    flow.start(parts, {**order("o1", 2), "customerId": "buyer"}, Attempt("t1"))
    assert parts.inventory.asked == [  # type: ignore[attr-defined]
        ("o1", "buyer", (OrderLine(TICKET, 2, Decimal("200.00")),))]


def test_sold_out_is_rejected_with_no_count_and_the_counts_are_kept_for_operators(
        parts: Parts) -> None:
    flow.start(parts, {**order("o1", 4), "customerId": "a"}, Attempt("t1"))
    flow.start(parts, {**order("o2", 3), "customerId": "b"}, Attempt("t2"))
    assert rejected(parts, "o2") == ("Not enough tickets left.",
                                     "out_of_stock: ticket-1 (1 available, 3 requested)")


def test_a_customer_over_their_limit_is_rejected_saying_the_limit(parts: Parts) -> None:
    flow.start(parts, order("o1", 4), Attempt("t1"))
    flow.start(parts, order("o2", 3), Attempt("t2"))
    assert rejected(parts, "o2") == ("You may hold at most 6 ticket-1 tickets at once.",
                                     "over_customer_limit: 1 over the limit")
