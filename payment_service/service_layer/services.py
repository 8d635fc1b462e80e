"""The payment service's use cases. Each runs in its own transaction(s) of the unit of work it is
given."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Protocol

from glastonbury import tracing
from glastonbury.clock import utc_now
from payment_service.adapters.repository import DuplicatePayment, OutboxMessage, PaymentRepository
from payment_service.domain.events import payment_decided
from payment_service.domain.gateway import GatewayRules
from payment_service.domain.model import (
    Decision,
    InvalidTransition,
    Payment,
    PaymentStatus,
    cancelled_tombstone,
    new_payment,
)
from payment_service.service_layer.unit_of_work import UnitOfWork

DECISION_BATCH = 100
PUBLISH_BATCH = 100


class PaymentNotFound(Exception):
    """The order has no payment."""


class Publisher(Protocol):
    """Hands messages to the broker; each send's returned call waits for its acknowledgement."""

    def send(self, topic: str, key: str, payload: str) -> Callable[[], None]: ...


def request_payment(uow: UnitOfWork, order_id: str, customer_id: str, amount: Decimal,
                    traceparent: str | None = None) -> tuple[Payment, bool]:
    """The order's payment and whether it was created now; a repeat returns the stored one.
    `traceparent`: the request's trace, which the result's message will continue."""
    payment = new_payment(order_id, customer_id, amount, utc_now(), traceparent)
    if _insert_unless_present(uow, payment):  # one transaction for a new payment
        return payment, True
    return get_payment(uow, order_id), False


def get_payment(uow: UnitOfWork, order_id: str) -> Payment:
    """The order's payment; PaymentNotFound if it has none."""
    payment = get_or_none(uow, order_id)
    if payment is None:
        raise PaymentNotFound(order_id)
    return payment


def get_or_none(uow: UnitOfWork, order_id: str) -> Payment | None:
    """The order's payment, or None."""
    with uow:
        return uow.payments.get(order_id)


def find_payments(uow: UnitOfWork, order_ids: list[str]) -> list[Payment]:
    """The payments of these orders that exist."""
    with uow:
        return [payment for order_id in dict.fromkeys(order_ids)
                if (payment := uow.payments.get(order_id)) is not None]


def decide_by_hand(uow: UnitOfWork, order_id: str, decision: Decision, topic: str) -> Payment:
    """The gateway's decision on a PENDING payment, given by a person; stored with its message
    as the relay stores its own. InvalidTransition if the payment is not PENDING."""
    now = utc_now()
    with uow:
        payment = uow.payments.get(order_id)
        if payment is None:
            raise PaymentNotFound(order_id)
        decided = payment.decide(decision, now)
        if not uow.payments.replace(PaymentStatus.PENDING, decided, now):
            raise InvalidTransition(f"the payment of order {order_id} is no longer PENDING")
        event = payment_decided(decided)
        uow.payments.add_message(event.event_id, topic, order_id, event.to_json(), now,
                                 decided.traceparent)
        uow.commit()
    return decided


def cancel_payment(uow: UnitOfWork, order_id: str) -> Payment:
    """Cancel a PENDING payment; leave a CANCELLED tombstone for an unknown order.

    If the gateway decides the payment at the same moment, exactly one of the two wins and the
    answer says which.
    """
    if get_or_none(uow, order_id) is None:
        _insert_unless_present(uow, cancelled_tombstone(order_id, utc_now()))
    return _transition(uow, order_id, Payment.cancel)


def refund_payment(uow: UnitOfWork, order_id: str) -> Payment:
    """Refund an APPROVED payment; other statuses stay; PaymentNotFound for an unknown order."""
    return _transition(uow, order_id, Payment.refund)


def decide_due_payments(uow: UnitOfWork, rules: GatewayRules, topic: str,
                        now: datetime | None = None) -> list[Payment]:
    """Let the gateway decide every payment due at `now`; return those decided by this call.

    Each decision and its outgoing message commit together, or neither does.
    """
    now = now or utc_now()
    with uow:  # one transaction for the whole batch
        decided = _decide_due(uow.payments, rules, topic, now)
        uow.commit()
    return decided


def _decide_due(payments: PaymentRepository, rules: GatewayRules, topic: str,
                now: datetime) -> list[Payment]:
    decided = []
    due = payments.pending_requested_before(rules.requested_before(now), rules.hold_customers,
                                            DECISION_BATCH)
    for payment in due:
        decision = rules.decide(payment)
        if decision is None:
            continue
        outcome = payment.decide(decision, now)
        # Another relay or a cancel may have moved it since it was read: then it is theirs.
        if payments.replace(PaymentStatus.PENDING, outcome, now):
            event = payment_decided(outcome)
            payments.add_message(event.event_id, topic, outcome.order_id, event.to_json(), now,
                                 outcome.traceparent)
            decided.append(outcome)
    return decided


@dataclass
class RelayPass:
    """What one pass of the relay did: the payments it decided, and the messages the broker
    acknowledged (to be marked published by the next pass, in its transaction)."""

    decided: list[Payment]
    acknowledged: list[int]
    sent: int


def relay_pass(uow: UnitOfWork, rules: GatewayRules, topic: str, publisher: Publisher,
               acknowledged_before: list[int], now: datetime | None = None) -> RelayPass:
    """One pass of the relay, one transaction: mark what the broker acknowledged in the pass
    before, decide every due payment with its message, take every message still unpublished;
    then hand them all to the broker and wait for each.

    A message is marked published only after the broker acknowledged it (at the next pass), so
    a crash in between publishes it again: at least once, never zero times.
    """
    now = now or utc_now()
    with uow:
        uow.payments.mark_published(acknowledged_before, now)
        decided = _decide_due(uow.payments, rules, topic, now)
        messages = uow.payments.unpublished_messages(PUBLISH_BATCH)
        uow.commit()
    acknowledged: list[int] = []
    _send_all(publisher, messages, acknowledged)
    return RelayPass(decided, acknowledged, len(messages))


def publish_pending_outbox(uow: UnitOfWork, publisher: Publisher,
                           limit: int = PUBLISH_BATCH) -> int:
    """Publish unpublished outbox messages oldest first; return how many were acknowledged.

    The whole batch is handed to the broker at once and its acknowledgements awaited in order.
    A message is marked published only after the broker acknowledged it, so a crash between
    the two publishes it again: at least once, never zero times. A failure stops the pass
    after marking what was acknowledged before it, then propagates.
    """
    with uow:
        messages = uow.payments.unpublished_messages(limit)
    if not messages:
        return 0
    acknowledged: list[int] = []
    try:
        _send_all(publisher, messages, acknowledged)
    finally:
        mark_published(uow, acknowledged)
    return len(acknowledged)


def mark_published(uow: UnitOfWork, acknowledged: list[int]) -> None:
    """Record that the broker acknowledged these outbox messages."""
    if acknowledged:
        with uow:
            uow.payments.mark_published(acknowledged, utc_now())
            uow.commit()


def _send_all(publisher: Publisher, messages: list[OutboxMessage],
              acknowledged: list[int]) -> None:
    """Hand every message to the broker at once, then wait for each in order, adding its id to
    `acknowledged`; the first failure stops the wait and propagates."""
    # Each sent in its payment's trace (the publisher's span continues it), when traced.
    waits = [(message.id, tracing.within(message.traceparent, publisher.send, message.topic,
                                         message.key, message.payload))
             for message in messages]
    for message_id, wait in waits:
        wait()
        acknowledged.append(message_id)


def _transition(uow: UnitOfWork, order_id: str, change: Callable[[Payment], Payment]) -> Payment:
    with uow:
        payment = uow.payments.get(order_id)
        if payment is None:
            raise PaymentNotFound(order_id)
        changed = change(payment)
        if changed is payment:
            return payment
        if uow.payments.replace(payment.status, changed, utc_now()):
            uow.commit()
            return changed
        # Lost a race (the relay decided it meanwhile): answer what is stored now.
        return uow.payments.get(order_id) or payment


def _insert_unless_present(uow: UnitOfWork, payment: Payment) -> bool:
    # Two requests for one order may both find nothing; the primary key lets only one in.
    with uow:
        try:
            uow.payments.add(payment)
        except DuplicatePayment:
            return False
        uow.commit()
        return True
