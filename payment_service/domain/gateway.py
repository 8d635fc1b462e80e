"""The simulated payment gateway: deterministic rules, so tests and demos can steer outcomes.

The rules apply in this order: a held customer is never decided, a declined customer is
declined, an amount above the limit is declined, anything else is approved.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal

from glastonbury.contracts.money import money_text
from payment_service.domain.model import Decision, Payment, PaymentStatus

CARD_DECLINED = "card declined by the gateway"


@dataclass(frozen=True)
class GatewayRules:
    """How the simulated gateway behaves; read from the environment by the entry points."""

    hold_customers: frozenset[str] = field(default_factory=frozenset)
    decline_customers: frozenset[str] = field(default_factory=frozenset)
    decline_above: Decimal = Decimal("1000.00")
    decision_delay_s: float = 0.0

    def decide(self, payment: Payment) -> Decision | None:
        """The gateway's decision on `payment`, or None when it holds the payment forever."""
        if payment.customer_id in self.hold_customers:
            return None
        if payment.customer_id in self.decline_customers:
            return Decision(PaymentStatus.DECLINED, CARD_DECLINED)
        if payment.amount is not None and payment.amount > self.decline_above:
            return Decision(PaymentStatus.DECLINED, above_limit_reason(payment.amount,
                                                                        self.decline_above))
        return Decision(PaymentStatus.APPROVED)

    def requested_before(self, now: datetime) -> datetime:
        """Payments requested at or before this instant are due for a decision at `now`."""
        return now - timedelta(seconds=self.decision_delay_s)

    def is_due(self, payment: Payment, now: datetime) -> bool:
        """Whether the gateway decides `payment` at `now`."""
        return (payment.status is PaymentStatus.PENDING
                and payment.customer_id not in self.hold_customers
                and payment.created_at <= self.requested_before(now))


def above_limit_reason(amount: Decimal, limit: Decimal) -> str:
    """The decline reason for an amount over the gateway's limit, both with two decimals."""
    return f"amount {money_text(amount)} is above the gateway limit of {money_text(limit)}"


def customer_set(comma_separated: str) -> frozenset[str]:
    """Customer ids from a comma-separated setting, blanks dropped, case normalised."""
    return frozenset(part.strip().lower() for part in comma_separated.split(",") if part.strip())
