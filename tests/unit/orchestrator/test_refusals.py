"""What a customer reads when the inventory holds none of their tickets: why, with the limit
they passed, and never a stock figure; the inventory's whole answer is for the step's record
(the flow's tests: test_flow_without_celery)."""

from __future__ import annotations

import re

import pytest

from glastonbury.contracts import errors as codes
from orchestrator.domain.refusals import Refusal, TicketLimit


@pytest.mark.parametrize("code", [codes.OUT_OF_STOCK, codes.OVER_ORDER_LIMIT,
                                  codes.OVER_CUSTOMER_LIMIT, codes.PRICE_CHANGED,
                                  codes.UNKNOWN_TICKET, codes.RESERVATION_RELEASED, "refused"])
def test_no_refusal_tells_the_customer_a_stock_figure(code: str) -> None:
    refusal = Refusal(code, "not enough tickets: 3852cb18 (969 available, 1000 requested)")
    reason = refusal.customer_reason()
    assert reason and not re.search(r"\d", reason) and "available" not in reason
    assert refusal.record == f"{code}: {refusal.message}"


def test_out_of_stock_tells_the_customer_only_that_not_enough_tickets_are_left() -> None:
    assert Refusal(codes.OUT_OF_STOCK, "...").customer_reason() == "Not enough tickets left."


def test_a_limit_passed_is_named_with_the_ticket() -> None:
    limits = (TicketLimit("day-one", 6), TicketLimit("camping", 2))
    assert Refusal(codes.OVER_CUSTOMER_LIMIT, "...", limits[:1]).customer_reason() == (
        "You may hold at most 6 day-one tickets at once.")
    assert Refusal(codes.OVER_ORDER_LIMIT, "...", limits).customer_reason() == (
        "One order may ask at most 6 day-one tickets. One order may ask at most 2 camping "
        "tickets.")
