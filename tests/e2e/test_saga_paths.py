"""Every path of the saga, end to end: HTTP in, real Redis, Tansu, Celery workers, HTTP out."""

from __future__ import annotations

import json
import time
import uuid

import pytest
import requests

from tests.e2e.conftest import DAY_ONE, HELD_CUSTOMER, Client, end_offsets
from tests.e2e.stack import Stack, wait_for

pytestmark = pytest.mark.e2e


def test_the_briefs_order_completes_and_sells_one_ticket(client: Client) -> None:
    before = client.available(DAY_ONE)
    response = requests.post(f"{client.stack.url('order')}/orders", timeout=10, json={
        "customerId": "e081ad0f-f83e-4f81-b2d7-23655ac04b8a", "amount": 10.5,
        "items": [{"id": DAY_ONE, "name": "day-one", "amount": 200.00, "quantity": 1}]})
    assert response.status_code == 202
    assert response.headers["Location"].endswith(f"/orders/{response.json()['id']}")
    order = client.wait_until_terminal(response.json()["id"])
    assert order["status"] == "COMPLETED" and order["reason"] is None
    assert client.available(DAY_ONE) == before - 1
    assert client.reservation(order["id"]) == "CONFIRMED"
    assert client.payment(order["id"]) == "APPROVED"


def test_a_client_waiting_with_the_long_poll_is_answered_once_its_order_ended(
        client: Client) -> None:
    order_id = client.place_order([(DAY_ONE, 200.00, 1)])
    began = time.monotonic()
    response = requests.get(f"{client.stack.url('order')}/orders/{order_id}",
                            params={"wait": 30}, timeout=40)
    # One request, answered when the outcome arrived: well before the 30 s it offered to wait.
    assert (response.status_code, response.json()["status"]) == (200, "COMPLETED")
    assert time.monotonic() - began < 20
    assert "Retry-After" not in response.headers


def test_a_declined_payment_releases_the_reservation_and_fails_the_order(client: Client) -> None:
    ticket = client.new_ticket(10, price=400.0)
    order = client.wait_until_terminal(client.place_order([(ticket, 400.0, 3)]))  # 1200 > 1000
    assert order["status"] == "PAYMENT_FAILED"
    assert "above the gateway limit" in order["reason"]
    assert client.available(ticket) == 10
    assert client.reservation(order["id"]) == "RELEASED"
    assert client.payment(order["id"]) == "DECLINED"


def test_an_order_for_more_tickets_than_available_is_rejected_with_stock_unchanged(
        client: Client) -> None:
    ticket = client.new_ticket(2)
    order = client.wait_until_terminal(client.place_order([(ticket, 10.0, 3)]))
    assert order["status"] == "REJECTED"
    assert order["reason"] == "Not enough tickets left."   # no stock figure
    assert client.available(ticket) == 2
    assert client.payment(order["id"]) is None


def test_free_tickets_are_sold_without_asking_for_a_payment(client: Client) -> None:
    ticket = client.new_ticket(5, price=0.0)
    order = client.wait_until_terminal(client.place_order([(ticket, 0.0, 2)]))
    assert order["status"] == "COMPLETED" and order["total"] == 0
    assert client.payment(order["id"]) is None
    assert client.reservation(order["id"]) == "CONFIRMED"
    assert client.available(ticket) == 3


def test_with_the_payment_service_down_then_back_the_request_is_retried_and_completes(
        stack: Stack, client: Client) -> None:
    ticket = client.new_ticket(5, price=50.0)
    stack.kill("payment")
    try:
        order_id = client.place_order([(ticket, 50.0, 1)])
        wait_for(lambda: _attempts(client, order_id, "request_payment") >= 2, 20,
                 "two failed payment requests")
    finally:
        stack.start("payment")
    order = client.wait_until_terminal(order_id)
    assert order["status"] == "COMPLETED"
    assert _attempts(client, order_id, "request_payment") >= 3
    assert client.available(ticket) == 4


def test_with_the_payment_service_down_for_good_the_saga_compensates_with_a_clear_reason(
        stack: Stack, client: Client) -> None:
    ticket = client.new_ticket(5, price=50.0)
    stack.kill("payment")
    try:
        order = client.wait_until_terminal(client.place_order([(ticket, 50.0, 2)]), timeout_s=60)
    finally:
        stack.start("payment")
        stack.wait_until_ready()
    assert order["status"] == "PAYMENT_FAILED"
    assert order["reason"] == ("The payment could not be requested; nothing was charged and the "
                               "tickets are back on sale.")
    request = next(step for step in client.saga(order["id"]).steps
                   if step.name == "request_payment")
    assert "gave up after 10 attempts" in request.error   # the failure, where the team reads it
    assert client.available(ticket) == 5
    assert client.reservation(order["id"]) == "RELEASED"


def test_without_a_payment_result_the_wait_times_out_cancels_and_a_late_result_changes_nothing(
        client: Client) -> None:
    ticket = client.new_ticket(5, price=20.0)
    started = time.monotonic()
    order = client.wait_until_terminal(
        client.place_order([(ticket, 20.0, 2)], customer=HELD_CUSTOMER), timeout_s=40)
    assert time.monotonic() - started >= 4  # PAYMENT_RESULT_TIMEOUT of the test stack
    assert order["status"] == "PAYMENT_FAILED"
    assert "No payment result within 4 s" in order["reason"]
    assert client.payment(order["id"]) == "CANCELLED"
    assert client.available(ticket) == 5

    # A late approval: forged, or signed but for a payment the service cancelled. Neither is
    # believed (the signature, the payment service's record), and nothing changes.
    client.publish_payment_result(order["id"], "APPROVED")
    client.publish_payment_result(order["id"], "APPROVED", amount="40.00",
                                  signed_with=client.stack.env["PAYMENT_RESULTS_SIGNING_KEY"])
    wait_for(lambda: _all_published_results_consumed(client), 20, "the late results consumed")
    assert client.order(order["id"])["status"] == "PAYMENT_FAILED"
    assert client.payment(order["id"]) == "CANCELLED"
    assert client.available(ticket) == 5


def test_a_payment_result_delivered_twice_and_out_of_order_has_one_effect(client: Client) -> None:
    ticket = client.new_ticket(5, price=20.0)
    order_id = client.place_order([(ticket, 20.0, 2)], customer=HELD_CUSTOMER)
    wait_for(lambda: (s := client.saga(order_id)) and s.state == "AWAITING_PAYMENT", 20,
             "the saga waiting for its payment")
    client.decide_payment(order_id, "APPROVED")   # the gateway approves: the relay publishes
    real = client.published_result(order_id)
    # The relay's own message again, twice (a publish repeated after a crash), and a
    # validly signed decline of the same payment that its record contradicts.
    client.publish_payment_result(order_id, "", raw=real.value, headers=real.headers)
    client.publish_payment_result(order_id, "", raw=real.value, headers=real.headers)
    decided = json.loads(real.value)
    client.publish_payment_result(order_id, "DECLINED", payment_id=decided["paymentId"],
                                  amount="40.00",
                                  signed_with=client.stack.env["PAYMENT_RESULTS_SIGNING_KEY"])
    order = client.wait_until_terminal(order_id)
    wait_for(lambda: _all_published_results_consumed(client), 20, "every result consumed")
    assert order["status"] == "COMPLETED"
    assert client.order(order_id)["status"] == "COMPLETED"
    assert client.available(ticket) == 3
    assert client.reservation(order_id) == "CONFIRMED"
    assert [s.name for s in client.saga(order_id).steps].count("finalise_order") == 1


def test_a_payment_approved_after_the_saga_gave_up_is_refunded(client: Client) -> None:
    ticket = client.new_ticket(1, price=30.0)
    order = client.wait_until_terminal(client.place_order([(ticket, 30.0, 2)]))
    assert order["status"] == "REJECTED"
    # A payment for the rejected order that the gateway approves anyway (a late, stray request
    # of the orchestrator's).
    response = requests.post(f"{client.stack.url('payment')}/payments", timeout=10,
                             headers=client.orchestrator, json={
                                 "orderId": order["id"], "customerId": order["customerId"],
                                 "amount": 60.0})
    assert response.status_code == 202
    wait_for(lambda: client.payment(order["id"]) == "REFUNDED", 30, "the stray payment refunded")
    assert client.order(order["id"])["status"] == "REJECTED"


def test_an_unreadable_payment_result_is_parked_and_the_bridge_goes_on(
        stack: Stack, client: Client) -> None:
    parked_before = stack.log("bridge").count("parked on payment.results.dlq")
    key = stack.env["PAYMENT_RESULTS_SIGNING_KEY"]
    client.publish_payment_result(str(uuid.uuid4()), "APPROVED", raw=b"\xff not json",
                                  signed_with=key)
    client.publish_payment_result(str(uuid.uuid4()), "APPROVED", raw=b'{"version": 99}',
                                  signed_with=key)
    wait_for(lambda: stack.log("bridge").count("parked on payment.results.dlq")
             >= parked_before + 2, 20, "both messages parked")
    ticket = client.new_ticket(3, price=5.0)
    order = client.wait_until_terminal(client.place_order([(ticket, 5.0, 1)]))
    assert order["status"] == "COMPLETED"


def _attempts(client: Client, order_id: str, step: str) -> int:
    saga = client.saga(order_id)
    return next((s.attempts for s in saga.steps if s.name == step), 0) if saga else 0


def _all_published_results_consumed(client: Client) -> bool:
    from kafka import KafkaConsumer

    servers = [client.stack.env["KAFKA_BOOTSTRAP_SERVERS"]]
    ends = end_offsets(servers, "payment.results")
    # A consumer that names the bridge's group can read its committed offsets without joining.
    consumer = KafkaConsumer(bootstrap_servers=servers, group_id="orchestrator-bridge",
                             enable_auto_commit=False)
    try:
        return all((consumer.committed(tp) or 0) >= end for tp, end in ends.items())
    finally:
        consumer.close()
