"""A payment and the rules for moving it from one status to the next.

Every transition returns a new `Payment` (or the same one when nothing changes); the repository
writes it on the condition that the stored status is still the one the transition started from,
so two processes racing on one payment cannot both win.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, replace
from datetime import datetime
from decimal import Decimal

from glastonbury.contracts.statuses import PaymentStatus

__all__ = ["PaymentStatus"]


CANCELLED_BEFORE_DECISION = "cancelled before the gateway decided"
CANCELLED_BEFORE_REQUEST = "cancelled before the payment was requested"
REFUNDED_REASON = "refunded after approval"


class InvalidTransition(Exception):
    """A transition the payment's current status does not allow."""


@dataclass(frozen=True)
class Decision:
    """What the gateway decided: APPROVED with no reason, or DECLINED with one."""

    status: PaymentStatus
    reason: str | None = None


@dataclass(frozen=True)
class Payment:
    """One payment per order: the order id is its identity and its idempotency key.

    A tombstone (cancelled before it was ever requested) has no customer and no amount.
    `traceparent` is the trace of the request (W3C; None untraced): its result's message
    continues it (glastonbury.tracing).
    """

    payment_id: str
    order_id: str
    customer_id: str | None
    amount: Decimal | None
    status: PaymentStatus
    reason: str | None
    created_at: datetime
    decided_at: datetime | None = None
    traceparent: str | None = None

    def decide(self, decision: Decision, now: datetime) -> Payment:
        """The gateway's decision applied; only a PENDING payment can be decided."""
        if self.status is not PaymentStatus.PENDING:
            raise InvalidTransition(f"a {self.status.value} payment cannot be decided")
        if decision.status not in (PaymentStatus.APPROVED, PaymentStatus.DECLINED):
            raise InvalidTransition(f"the gateway cannot decide {decision.status.value}")
        return replace(self, status=decision.status, reason=decision.reason, decided_at=now)

    def cancel(self) -> Payment:
        """PENDING becomes CANCELLED so the gateway never decides it; other statuses stay."""
        if self.status is not PaymentStatus.PENDING:
            return self
        return replace(self, status=PaymentStatus.CANCELLED, reason=CANCELLED_BEFORE_DECISION)

    def refund(self) -> Payment:
        """APPROVED becomes REFUNDED; other statuses stay (nothing was taken to give back)."""
        if self.status is not PaymentStatus.APPROVED:
            return self
        return replace(self, status=PaymentStatus.REFUNDED, reason=REFUNDED_REASON)


def new_payment(order_id: str, customer_id: str, amount: Decimal, now: datetime,
                traceparent: str | None = None) -> Payment:
    """A freshly requested payment, waiting for the gateway."""
    return Payment(str(uuid.uuid4()), order_id, customer_id, amount, PaymentStatus.PENDING,
                   None, now, traceparent=traceparent)


def cancelled_tombstone(order_id: str, now: datetime) -> Payment:
    """The mark left by cancelling an order whose payment never arrived.

    A late request for the order then finds it and is answered CANCELLED instead of charging.
    """
    return Payment(str(uuid.uuid4()), order_id, None, None, PaymentStatus.CANCELLED,
                   CANCELLED_BEFORE_REQUEST, now)
