"""The gateway's decisions as the relay writes them: payment and outbox row in one transaction."""

from __future__ import annotations

import json
import threading
from datetime import timedelta
from decimal import Decimal

import pytest

from payment_service.domain.gateway import GatewayRules
from payment_service.service_layer import services

from .conftest import new_id, uow

TOPIC = "payment.results"


def request(engine, amount="200.00", customer_id=None):
    payment, _ = services.request_payment(uow(engine), new_id(), customer_id or new_id(),
                                          Decimal(amount))
    return payment


def outbox(engine):
    with uow(engine) as work:
        return work.payments.all_messages()


def test_a_due_payment_is_approved_and_its_message_queued_in_the_outbox(engine):
    payment = request(engine)
    [decided] = services.decide_due_payments(uow(engine), GatewayRules(), TOPIC)
    stored = services.get_payment(uow(engine), payment.order_id)
    assert (stored.status.value, stored.decided_at) == ("APPROVED", decided.decided_at)
    [message] = outbox(engine)
    assert (message.topic, message.key, message.published_at) == (TOPIC, payment.order_id, None)
    body = json.loads(message.payload)
    assert (body["eventId"], body["status"], body["amount"]) == (message.event_id, "APPROVED",
                                                                 "200.00")


def test_an_amount_over_the_limit_is_declined_with_the_contract_reason(engine):
    payment = request(engine, "1200.00")
    services.decide_due_payments(uow(engine), GatewayRules(), TOPIC)
    stored = services.get_payment(uow(engine), payment.order_id)
    assert (stored.status.value, stored.reason) == (
        "DECLINED", "amount 1200.00 is above the gateway limit of 1000.00")


def test_a_held_customer_stays_pending_and_does_not_block_others(engine):
    held = request(engine, customer_id=new_id())
    rules = GatewayRules(hold_customers=frozenset({held.customer_id}))
    other = request(engine)
    decided = services.decide_due_payments(uow(engine), rules, TOPIC)
    assert [p.order_id for p in decided] == [other.order_id]
    assert services.get_payment(uow(engine), held.order_id).status.value == "PENDING"


def test_a_payment_is_not_decided_before_its_delay_has_passed(engine):
    payment = request(engine)
    rules = GatewayRules(decision_delay_s=60)
    assert services.decide_due_payments(uow(engine), rules, TOPIC) == []
    later = payment.created_at + timedelta(seconds=60)
    assert len(services.decide_due_payments(uow(engine), rules, TOPIC, now=later)) == 1


def test_a_decided_payment_is_decided_only_once(engine):
    request(engine)
    services.decide_due_payments(uow(engine), GatewayRules(), TOPIC)
    assert services.decide_due_payments(uow(engine), GatewayRules(), TOPIC) == []
    assert len(outbox(engine)) == 1


def test_an_approved_payment_can_be_refunded_but_not_cancelled(engine):
    payment = request(engine)
    services.decide_due_payments(uow(engine), GatewayRules(), TOPIC)
    assert services.cancel_payment(uow(engine), payment.order_id).status.value == "APPROVED"
    assert services.refund_payment(uow(engine), payment.order_id).status.value == "REFUNDED"
    assert services.refund_payment(uow(engine), payment.order_id).status.value == "REFUNDED"


def test_a_declined_payment_is_not_refunded(engine):
    payment = request(engine, "5000")
    services.decide_due_payments(uow(engine), GatewayRules(), TOPIC)
    assert services.refund_payment(uow(engine), payment.order_id).status.value == "DECLINED"


def test_a_cancelled_payment_is_never_decided(engine):
    payment = request(engine)
    services.cancel_payment(uow(engine), payment.order_id)
    assert services.decide_due_payments(uow(engine), GatewayRules(), TOPIC) == []
    assert outbox(engine) == []


def run_together(*actions):
    """Run the actions in threads released at the same moment; return their results."""
    barrier = threading.Barrier(len(actions))
    results = [None] * len(actions)

    def run(index, action):
        barrier.wait()
        results[index] = action()

    threads = [threading.Thread(target=run, args=(i, a)) for i, a in enumerate(actions)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    return results


@pytest.mark.parametrize("attempt", range(5))
def test_cancel_and_decision_racing_yield_exactly_one_outcome(engine, attempt):
    payment = request(engine)
    cancelled, decided = run_together(
        lambda: services.cancel_payment(uow(engine), payment.order_id),
        lambda: services.decide_due_payments(uow(engine), GatewayRules(), TOPIC))
    stored = services.get_payment(uow(engine), payment.order_id)
    assert cancelled.status == stored.status
    if stored.status.value == "CANCELLED":
        assert (decided, outbox(engine)) == ([], [])
    else:
        assert stored.status.value == "APPROVED"
        assert [p.order_id for p in decided] == [payment.order_id]
        assert len(outbox(engine)) == 1


def test_two_relays_deciding_at_once_queue_one_message_per_payment(engine):
    orders = {request(engine).order_id for _ in range(10)}
    results = run_together(*[
        lambda: services.decide_due_payments(uow(engine), GatewayRules(), TOPIC)
        for _ in range(3)])
    decided = [p.order_id for result in results for p in result]
    assert sorted(decided) == sorted(orders)
    assert sorted(m.key for m in outbox(engine)) == sorted(orders)


def test_concurrent_requests_for_one_order_create_one_payment(engine):
    order_id, customer_id = new_id(), new_id()
    results = run_together(*[
        lambda: services.request_payment(uow(engine), order_id, customer_id, Decimal(1))
        for _ in range(4)])
    assert len({payment.payment_id for payment, _ in results}) == 1
    assert [created for _, created in results].count(True) == 1


def test_a_write_based_on_a_stale_read_changes_nothing(engine):
    payment = request(engine)
    services.decide_due_payments(uow(engine), GatewayRules(), TOPIC)
    with uow(engine) as work:
        # what a cancel that read PENDING just before the decision committed would write
        assert not work.payments.replace(payment.status, payment.cancel(), payment.created_at)
    assert services.get_payment(uow(engine), payment.order_id).status.value == "APPROVED"
