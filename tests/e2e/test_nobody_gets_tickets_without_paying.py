"""Attacks on the running stack, as someone on the network (or on Kafka) would try them: a price
of one's own, a forged payment result, internal calls without a credential. Each gets nothing:
no tickets, no money back, no order completed, a clear 4xx where HTTP answers."""

from __future__ import annotations

import json
import uuid

import pytest
import requests

from tests.e2e.conftest import DAY_ONE, HELD_CUSTOMER, Client
from tests.e2e.stack import Stack, wait_for
from tests.e2e.test_saga_paths import _all_published_results_consumed

pytestmark = pytest.mark.e2e


def test_a_client_named_price_is_refused_with_the_catalogues_and_nothing_is_stored(
        client: Client) -> None:
    before = client.available(DAY_ONE)
    response = client.post_order([(DAY_ONE, 0.01, 3)])
    assert response.status_code == 422
    body = response.json()
    assert body["error"] == "not_the_catalogue"
    assert body["details"] == [{"field": "items[0].amount", "price": 200.0,
                                "problem": "the price of 'ticket' is 200.00, not 0.01"}]
    # The brief's own order, at the catalogue's price, still works unchanged.
    order = client.wait_until_terminal(client.place_order([(DAY_ONE, 200.00, 1)]))
    assert order["status"] == "COMPLETED" and order["total"] == 200.0
    assert client.available(DAY_ONE) == before - 1


def test_the_inventory_holds_no_ticket_at_a_price_that_is_no_longer_the_catalogues(
        client: Client) -> None:
    # An order the order service accepted at 30.00 (its catalogue cache is a second or two old,
    # or the catalogue was unreachable) reaches the reserve step after the price rose: the
    # inventory, the authority on prices, holds nothing at the old price.
    ticket = client.new_ticket(5, price=30.0)
    response = requests.put(f"{client.stack.url('inventory')}/tickets/{ticket}/price",
                            json={"price": 45.0}, headers=client.admin, timeout=10)
    assert response.status_code == 200
    reserve = requests.put(f"{client.stack.url('inventory')}/reservations/{uuid.uuid4()}",
                           headers=client.orchestrator, timeout=10, json={
                               "customerId": str(uuid.uuid4()),
                               "items": [{"ticketId": ticket, "quantity": 1, "unitPrice": 30.0}]})
    assert reserve.status_code == 409 and reserve.json()["error"] == "price_changed"
    assert client.available(ticket) == 5


def test_a_forged_payment_result_completes_nothing(stack: Stack, client: Client) -> None:
    ticket = client.new_ticket(5, price=20.0)
    order_id = client.place_order([(ticket, 20.0, 2)], customer=HELD_CUSTOMER)
    wait_for(lambda: (s := client.saga(order_id)) and s.state == "AWAITING_PAYMENT", 20,
             "the saga waiting for its payment")
    parked_before = stack.log("bridge").count("parked on payment.results.dlq")
    # Without the relay's key; with a key of one's own; and with the real key (someone who
    # stole it) for a payment that the payment service never approved.
    client.publish_payment_result(order_id, "APPROVED", amount="40.00")
    client.publish_payment_result(order_id, "APPROVED", amount="40.00", signed_with="guess")
    client.publish_payment_result(order_id, "APPROVED", amount="40.00",
                                  signed_with=stack.env["PAYMENT_RESULTS_SIGNING_KEY"])
    wait_for(lambda: _all_published_results_consumed(client), 20, "the forgeries consumed")
    log = stack.log("bridge")
    assert log.count("parked on payment.results.dlq") >= parked_before + 3
    assert "not signed by the payment relay" in log
    assert "the payment service's record says PENDING, not APPROVED" in log
    saga = client.saga(order_id)
    assert saga.state == "AWAITING_PAYMENT"
    assert client.order(order_id)["status"] == "PENDING"
    assert client.reservation(order_id) == "HELD"
    assert client.payment(order_id) == "PENDING"


# Every internal call, as someone without a credential (or with a guessed one) sends it.
def internal_calls(client: Client, order_id: str) -> list[tuple[str, str, dict | None]]:
    inventory, payment, orders = (client.stack.url(s) for s in ("inventory", "payment", "order"))
    return [
        ("post", f"{payment}/payments/{order_id}/refund", None),
        ("post", f"{payment}/payments/{order_id}/cancel", None),
        ("post", f"{payment}/payments/{order_id}/decide", {"status": "APPROVED"}),
        ("get", f"{payment}/payments/{order_id}", None),
        ("post", f"{payment}/payments", {"orderId": str(uuid.uuid4()),
                                         "customerId": str(uuid.uuid4()), "amount": 1.0}),
        ("post", f"{inventory}/reservations/{order_id}/release", None),
        ("post", f"{inventory}/reservations/{order_id}/confirm", None),
        ("put", f"{inventory}/reservations/{uuid.uuid4()}",
         {"customerId": str(uuid.uuid4()),
          "items": [{"ticketId": DAY_ONE, "quantity": 5, "unitPrice": 200.0}]}),
        ("post", f"{inventory}/tickets", {"name": "free", "available": 9, "price": 0}),
        ("put", f"{inventory}/tickets/{DAY_ONE}/price", {"price": 0.01}),
        ("put", f"{inventory}/tickets/{DAY_ONE}/limits",
         {"maxPerOrder": 10_000, "maxPerCustomer": 10_000}),
        ("post", f"{orders}/orders/{order_id}/outcome", {"status": "COMPLETED"}),
        ("get", f"{orders}/orders", None),
    ]


def test_internal_calls_without_a_credential_are_refused_and_change_nothing(
        client: Client) -> None:
    ticket = client.new_ticket(5, price=20.0)
    paid = client.wait_until_terminal(client.place_order([(ticket, 20.0, 1)]))
    assert paid["status"] == "COMPLETED"
    day_one = client.available(DAY_ONE)
    for headers in ({}, {"Authorization": "Bearer guess"},
                    {"Authorization": f"Basic {client.stack.env['ADMIN_TOKEN']}"}):
        for method, url, body in internal_calls(client, paid["id"]):
            response = requests.request(method, url, json=body, headers=headers, timeout=10)
            assert response.status_code == 401, (method, url, response.status_code)
            assert response.json()["error"] == "unauthorized", (method, url)
    assert client.payment(paid["id"]) == "APPROVED"            # no money back
    assert client.reservation(paid["id"]) == "CONFIRMED"       # tickets kept, as paid for
    assert client.order(paid["id"])["status"] == "COMPLETED"
    assert client.available(DAY_ONE) == day_one
    catalogue = requests.get(f"{client.stack.url('inventory')}/tickets/{DAY_ONE}", timeout=10)
    assert catalogue.json()["price"] == 200.0                  # the catalogue stays public


def test_a_forged_outcome_with_a_stolen_credential_is_a_conflict_the_saga_does_not_swallow(
        stack: Stack, client: Client) -> None:
    # Someone with the orchestrator's token ends a waiting order as they like; the saga, paid
    # later, meets a different end at the order service: it parks for a person, never taking
    # the 409 as its own success.
    ticket = client.new_ticket(5, price=20.0)
    order_id = client.place_order([(ticket, 20.0, 1)], customer=HELD_CUSTOMER)
    wait_for(lambda: (s := client.saga(order_id)) and s.state == "AWAITING_PAYMENT", 20,
             "the saga waiting for its payment")
    forged = requests.post(f"{stack.url('order')}/orders/{order_id}/outcome",
                           headers=client.orchestrator, timeout=10,
                           json={"status": "REJECTED", "reason": "forged"})
    assert forged.status_code == 200
    client.decide_payment(order_id, "APPROVED")
    wait_for(lambda: (s := client.saga(order_id)) and s.parked, 30, "the saga parked")
    saga = client.saga(order_id)
    finalise = next(step for step in saga.steps if step.name == "finalise_order")
    assert finalise.outcome == "parked" and "cannot end COMPLETED" in finalise.error
    assert json.loads(json.dumps(client.order(order_id)))["status"] == "REJECTED"
