"""The domain rules of an order: its total, its outcome and the message that starts its saga."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from order_service.domain.model import (
    ConflictingOutcome,
    Order,
    OrderLine,
    OrderStatus,
    order_message,
)

NOW = datetime(2025, 6, 25, 10, 0, tzinfo=UTC)
DAY_ONE = uuid.UUID("3852cb18-9c19-4326-ac77-a1a0264bd98c")
CUSTOMER = uuid.UUID("e081ad0f-f83e-4f81-b2d7-23655ac04b8a")


def an_order(*lines: OrderLine) -> Order:
    lines = lines or (OrderLine(DAY_ONE, "day-one", Decimal("200.00"), 1),)
    return Order.place(CUSTOMER, Decimal("10.5"), list(lines), NOW)


def test_a_new_order_is_pending_with_no_reason() -> None:
    order = an_order()
    assert (order.status, order.reason) == (OrderStatus.PENDING, None)
    assert order.created_at == order.updated_at == NOW


def test_the_total_is_the_sum_of_amount_times_quantity() -> None:
    order = an_order(OrderLine(DAY_ONE, "day-one", Decimal("200.00"), 3),
                     OrderLine(uuid.uuid4(), "camping", Decimal("0.05"), 7))
    assert order.total == Decimal("600.35")


def test_the_total_ignores_the_amount_the_customer_declared() -> None:
    assert an_order().total == Decimal("200.00")


@pytest.mark.parametrize("status", [OrderStatus.COMPLETED, OrderStatus.REJECTED,
                                    OrderStatus.PAYMENT_FAILED])
def test_a_pending_order_takes_any_terminal_outcome(status: OrderStatus) -> None:
    order = an_order()
    assert order.record_outcome(status, None, NOW + timedelta(seconds=5)) is True
    assert order.status is status
    assert order.updated_at == NOW + timedelta(seconds=5)


def test_the_same_outcome_again_changes_nothing() -> None:
    order = an_order()
    order.record_outcome(OrderStatus.REJECTED, "No tickets left.", NOW)
    later = NOW + timedelta(minutes=1)
    assert order.record_outcome(OrderStatus.REJECTED, "Another sentence.", later) is False
    assert (order.reason, order.updated_at) == ("No tickets left.", NOW)


def test_a_different_outcome_after_the_first_is_a_conflict() -> None:
    order = an_order()
    order.record_outcome(OrderStatus.COMPLETED, None, NOW)
    with pytest.raises(ConflictingOutcome):
        order.record_outcome(OrderStatus.PAYMENT_FAILED, "declined", NOW)
    assert order.status is OrderStatus.COMPLETED


def test_pending_is_not_an_outcome() -> None:
    with pytest.raises(ValueError):
        an_order().record_outcome(OrderStatus.PENDING, None, NOW)


def test_a_failed_order_always_says_why() -> None:
    order = an_order()
    order.record_outcome(OrderStatus.PAYMENT_FAILED, None, NOW)
    assert order.reason == "The payment was not effected."


def test_a_completed_order_has_no_reason() -> None:
    order = an_order()
    order.record_outcome(OrderStatus.COMPLETED, "all good", NOW)
    assert order.reason is None


def test_the_order_message_is_the_sagas_contract() -> None:
    order = an_order(OrderLine(DAY_ONE, "day-one", Decimal(200), 2))
    assert order_message(order) == {
        "version": 1,
        "orderId": str(order.id),
        "customerId": str(CUSTOMER),
        "total": "400.00",
        "items": [{"ticketId": str(DAY_ONE), "name": "day-one", "quantity": 2,
                   "amount": "200.00"}],
    }


def test_an_order_within_each_tickets_limit_per_order_passes() -> None:
    from order_service.domain.model import Listing, check_order_limits

    camping = uuid.uuid4()
    catalogue = {DAY_ONE: Listing("day-one", Decimal("200.00"), 6),
                 camping: Listing("camping", Decimal("50.00"), None)}   # no limit said
    check_order_limits([OrderLine(DAY_ONE, "day-one", Decimal("200.00"), 2),
                        OrderLine(DAY_ONE, "day-one", Decimal("200.00"), 4),
                        OrderLine(camping, "camping", Decimal("50.00"), 500)], catalogue)


def test_lines_of_one_ticket_are_added_against_its_limit_and_the_first_is_named() -> None:
    from order_service.domain.model import Listing, OverOrderLimit, check_order_limits

    catalogue = {DAY_ONE: Listing("day-one", Decimal("200.00"), 6)}
    with pytest.raises(OverOrderLimit) as refused:
        check_order_limits([OrderLine(DAY_ONE, "mine", Decimal("200.00"), 4),
                            OrderLine(DAY_ONE, "mine", Decimal("200.00"), 3)], catalogue)
    [problem] = refused.value.problems
    assert (problem.index, problem.field, problem.limit) == (0, "quantity", 6)
    assert problem.problem == "one order may ask at most 6 day-one tickets; this one asks 7"
