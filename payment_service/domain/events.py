"""Events the payment service tells the world about, and their wire form."""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from payment_service.domain.gateway import money
from payment_service.domain.model import InvalidTransition, Payment, PaymentStatus


@dataclass(frozen=True)
class PaymentDecided:
    """The gateway approved or declined a payment; consumers deduplicate by `event_id`."""

    order_id: str
    payment_id: str
    status: PaymentStatus
    reason: str | None
    amount: str
    decided_at: datetime
    event_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    version: int = 1

    @classmethod
    def of(cls, payment: Payment) -> PaymentDecided:
        """The event announcing `payment`'s decision; the payment must be decided."""
        if payment.decided_at is None or payment.amount is None or payment.status not in (
                PaymentStatus.APPROVED, PaymentStatus.DECLINED):
            raise InvalidTransition(f"a {payment.status.value} payment was not decided")
        return cls(payment.order_id, payment.payment_id, payment.status, payment.reason,
                   money(payment.amount), payment.decided_at)

    def to_dict(self) -> dict[str, Any]:
        """The message's JSON object, with the contract's field names."""
        return {
            "version": self.version,
            "eventId": self.event_id,
            "type": "PaymentDecided",
            "orderId": self.order_id,
            "paymentId": self.payment_id,
            "status": self.status.value,
            "reason": self.reason,
            "amount": self.amount,
            "decidedAt": self.decided_at.isoformat(),
        }

    def to_json(self) -> str:
        """The message as UTF-8-ready JSON text."""
        return json.dumps(self.to_dict(), separators=(",", ":"))
