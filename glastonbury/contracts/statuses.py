"""An order's and a payment's statuses, as their services answer them and the others read them."""

from __future__ import annotations

from enum import StrEnum


class OrderStatus(StrEnum):
    """Where an order stands; every status but PENDING is final."""

    PENDING = "PENDING"
    COMPLETED = "COMPLETED"
    REJECTED = "REJECTED"
    PAYMENT_FAILED = "PAYMENT_FAILED"

    @property
    def is_terminal(self) -> bool:
        return self is not OrderStatus.PENDING


class PaymentStatus(StrEnum):
    """Where a payment stands; only PENDING ever changes by the gateway's hand."""

    PENDING = "PENDING"
    APPROVED = "APPROVED"
    DECLINED = "DECLINED"
    CANCELLED = "CANCELLED"
    REFUNDED = "REFUNDED"


# A payment's statuses once the gateway decided it (what a payment result announces).
DECIDED = (PaymentStatus.APPROVED, PaymentStatus.DECLINED)
