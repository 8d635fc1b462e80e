"""Hoarders and bots against the real stack: what one order and one buyer may hold, and no
stock figure in any answer a buyer gets (issue 18).

Measured before the limits: an order for all 968 day-one tickets held every ticket until its
payment was decided; a buyer whose card check never completes placed 704 orders in 3 s and held
the whole stock until the payment deadline, turning 5 of 5 paying customers away; and a
rejected order's reason told the stock left ("969 available").
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from tests.e2e.conftest import Client
from tests.e2e.stack import Stack, wait_for

pytestmark = pytest.mark.e2e

HOARDER = "00000000-0000-4000-8000-00000000b0a1"   # the gateway never decides their payments
PRICE = 200.0


@pytest.fixture(scope="module")
def hoarded(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Client]:
    # The hoarder's holds last the whole module: their payments wait 10 minutes for a result.
    stack = Stack(Path(tmp_path_factory.mktemp("hoarders")), PAYMENT_HOLD_CUSTOMERS=HOARDER,
                  PAYMENT_RESULT_TIMEOUT="600")
    stack.start(*[name for name in stack.parts if name != "flower"])
    try:
        stack.wait_until_ready()
        yield Client(stack)
    finally:
        stack.stop()
        print(f"\nstack logs kept in {stack.logs}")


def test_an_order_for_the_whole_stock_is_refused_when_placed_and_a_real_customer_gets_one(
        hoarded: Client) -> None:
    ticket = hoarded.new_ticket(968, price=PRICE, name="day-two")
    response = hoarded.post_order([(ticket, PRICE, 968)], customer=str(uuid.uuid4()))
    assert response.status_code == 422, response.text
    body = response.json()
    assert body["error"] == "over_order_limit"
    assert body["details"] == [{"field": "items[0].quantity", "limit": 6, "problem":
                                "one order may ask at most 6 day-two tickets; this one asks 968"}]
    assert hoarded.available(ticket) == 968   # nothing was held, not even for a moment
    real = hoarded.place_order([(ticket, PRICE, 1)], customer=str(uuid.uuid4()))
    assert hoarded.wait_until_terminal(real)["status"] == "COMPLETED"
    assert hoarded.available(ticket) == 967


def test_a_buyer_who_never_pays_holds_at_most_their_limit_and_paying_customers_get_tickets(
        hoarded: Client) -> None:
    ticket = hoarded.new_ticket(20, price=PRICE, name="day-two")
    with ThreadPoolExecutor(8) as pool:
        hoards = list(pool.map(lambda _: hoarded.place_order([(ticket, PRICE, 2)],
                                                             customer=HOARDER), range(40)))
    # Each hoarding order ends refused, or holds its tickets waiting for a payment that never
    # comes (its order stays PENDING until the 10-minute deadline).
    ends = {order_id: wait_for(lambda o=order_id: _held_or_ended(hoarded, o), 60,
                               f"hoarding order {order_id} held or ended") for order_id in hoards}
    held = [order_id for order_id, end in ends.items() if end == "HELD"]
    assert 2 * len(held) == 6      # the limit: 6 day-two tickets a customer
    refused = {hoarded.order(order_id)["reason"] for order_id, end in ends.items()
               if end == "REJECTED"}
    assert refused == {"You may hold at most 6 day-two tickets at once."}
    assert len(held) + sum(end == "REJECTED" for end in ends.values()) == 40

    payers = [hoarded.place_order([(ticket, PRICE, 1)], customer=str(uuid.uuid4()))
              for _ in range(5)]
    assert [hoarded.wait_until_terminal(order)["status"] for order in payers] == ["COMPLETED"] * 5
    assert hoarded.available(ticket) == 20 - 6 - 5


def test_a_rejected_orders_public_reason_names_no_stock_figure(hoarded: Client) -> None:
    ticket = hoarded.new_ticket(2, price=PRICE, name="day-two")
    order = hoarded.wait_until_terminal(hoarded.place_order([(ticket, PRICE, 3)],
                                                            customer=str(uuid.uuid4())))
    assert order["status"] == "REJECTED"
    assert order["reason"] == "Not enough tickets left."
    assert not re.search(r"\d", order["reason"])
    # The operators keep the counts: the reserve step's record has the inventory's answer.
    record = next(step for step in hoarded.saga(order["id"]).steps
                  if step.name == "reserve_tickets")
    assert (record.outcome, "2 available, 3 requested" in record.error) == ("out_of_stock", True)


def _held_or_ended(client: Client, order_id: str) -> str | None:
    """HELD once the order's tickets are held waiting for its payment; its status once it
    ended; None until then."""
    order = client.order(order_id)
    if order["status"] != "PENDING":
        return str(order["status"])
    saga = client.saga(order_id)
    if saga is not None and saga.state == "AWAITING_PAYMENT":
        return "HELD" if client.reservation(order_id) == "HELD" else None
    return None

