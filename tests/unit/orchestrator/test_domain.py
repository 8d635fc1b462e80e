"""Reading the messages the saga receives."""

from __future__ import annotations

import json

import pytest

from orchestrator.domain.model import InvalidMessage, PaymentDecided


def message(**fields: object) -> dict:
    base = {"version": 1, "eventId": "e1", "type": "PaymentDecided", "orderId": "o1",
            "status": "APPROVED", "reason": None}
    return {**base, **fields}


def test_a_payment_result_of_the_contract_is_read() -> None:
    result = PaymentDecided.from_message(message(status="DECLINED", reason="no funds"))
    assert (result.event_id, result.order_id, result.approved, result.reason) == (
        "e1", "o1", False, "no funds")


@pytest.mark.parametrize("bad", [
    [], "text", message(version=2), message(type="Other"), message(status=1),
    message(status="MAYBE"), message(orderId=["o1"]), message(eventId=""),
    {k: v for k, v in message().items() if k != "eventId"},
])
def test_a_payment_result_that_breaks_the_contract_is_invalid(bad: object) -> None:
    with pytest.raises(InvalidMessage):
        PaymentDecided.from_message(json.loads(json.dumps(bad)))
