"""Events the payment service tells the world about; their wire form is the published
language's (glastonbury.contracts.messages), which the orchestrator reads."""

from __future__ import annotations

import uuid

from glastonbury.contracts.messages import PaymentDecided
from payment_service.domain.model import InvalidTransition, Payment, PaymentStatus


def payment_decided(payment: Payment) -> PaymentDecided:
    """The event announcing `payment`'s decision, with an id of its own (consumers deduplicate
    by it); the payment must be decided."""
    if payment.decided_at is None or payment.amount is None or payment.status not in (
            PaymentStatus.APPROVED, PaymentStatus.DECLINED):
        raise InvalidTransition(f"a {payment.status.value} payment was not decided")
    return PaymentDecided(str(uuid.uuid4()), payment.order_id,
                          payment.status is PaymentStatus.APPROVED, payment.reason,
                          payment.payment_id, payment.amount, decided_at=payment.decided_at)
