"""Reading the messages the saga receives."""

from __future__ import annotations

import json

import uuid
from decimal import Decimal

import pytest

from orchestrator.domain.model import InvalidMessage, OrderPlaced, PaymentDecided


EVENT, ORDER, PAYMENT = (str(uuid.UUID(int=n)) for n in (1, 2, 3))


def message(**fields: object) -> dict:
    base = {"version": 1, "eventId": EVENT, "type": "PaymentDecided", "orderId": ORDER,
            "paymentId": PAYMENT, "status": "APPROVED", "reason": None, "amount": "200.00"}
    return {**base, **fields}


def test_a_payment_result_of_the_contract_is_read() -> None:
    result = PaymentDecided.from_message(message(status="DECLINED", reason="no funds"))
    assert (result.event_id, result.order_id, result.approved, result.reason) == (
        EVENT, ORDER, False, "no funds")
    assert (result.payment_id, result.amount) == (PAYMENT, Decimal("200.00"))


@pytest.mark.parametrize("bad", [
    [], "text", message(version=2), message(type="Other"), message(status=1),
    message(status="MAYBE"), message(orderId=["o1"]), message(eventId=""),
    {k: v for k, v in message().items() if k != "eventId"},
    # ids are UUIDs: an over-long or malformed one could not be stored (VARCHAR(64))
    message(orderId="o" * 65), message(orderId="not-a-uuid"), message(eventId=EVENT + "x"),
    message(paymentId=None), message(amount="lots"), message(amount="NaN"),
    {k: v for k, v in message().items() if k != "amount"},
])
def test_a_payment_result_that_breaks_the_contract_is_invalid(bad: object) -> None:
    with pytest.raises(InvalidMessage):
        PaymentDecided.from_message(json.loads(json.dumps(bad)))


def order_message(**fields: object) -> dict:
    base = {"version": 1, "orderId": ORDER, "customerId": EVENT, "total": "400.00",
            "items": [{"ticketId": PAYMENT, "name": "day-one", "quantity": 2,
                       "amount": "200.00"}]}
    return {**base, **fields}


def test_an_order_message_of_the_contract_is_read_with_its_prices() -> None:
    order = OrderPlaced.from_message(order_message())
    assert (order.total, [(line.quantity, line.unit_price) for line in order.lines]) == (
        Decimal("400.00"), [(2, Decimal("200.00"))])


@pytest.mark.parametrize("bad", [
    # a total of its own would be paid instead of the lines' (2 day-one tickets for nothing)
    order_message(total="0.00"), order_message(total="399.99"),
    # a line without the price it was placed at would be held unpriced
    order_message(items=[{"ticketId": PAYMENT, "quantity": 2}], total="0.00"),
    order_message(items=[], total="0.00"),
    order_message(items=[{"ticketId": PAYMENT, "quantity": 0, "amount": "200.00"}],
                  total="0.00"),
    order_message(version=2), order_message(total="lots"),
])
def test_an_order_message_whose_sums_do_not_hold_is_invalid(bad: dict) -> None:
    with pytest.raises(InvalidMessage):
        OrderPlaced.from_message(bad)
