"""The three services as the saga's steps call them: what each answers, in the saga's words.

A call answers the service's decision (held or refused, a payment's status) and raises
`ServiceUnavailable` for anything technical (each step's retry policy decides what then), or
`ContractBroken` for an answer the contract does not allow (never retried). The clients over
HTTP are `orchestrator.adapters.services`; a test hands in fakes.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Any, Protocol

from glastonbury.contracts.statuses import OrderStatus, PaymentStatus
from orchestrator.domain.exceptions import ContractBroken
from orchestrator.domain.model import OrderLine
from orchestrator.domain.refusals import Refusal


@dataclass(frozen=True)
class PaymentRecord:
    """The payment service's record of an order's payment."""

    status: PaymentStatus
    reason: str | None
    payment_id: str | None
    amount: Decimal | None

    @classmethod
    def from_body(cls, body: dict[str, Any]) -> PaymentRecord:
        amount = body.get("amount")
        return cls(payment_status(body.get("status")), body.get("reason"),
                   body.get("paymentId"), None if amount is None else Decimal(str(amount)))


def payment_status(value: Any) -> PaymentStatus:
    """A payment's status as the payment service answered it; one it has none of breaks the
    contract."""
    try:
        return PaymentStatus(value)
    except ValueError:
        raise ContractBroken(f"the payment service answered no payment status: {value!r}") \
            from None


class Inventory(Protocol):
    def reserve(self, order_id: str, customer_id: str,
                lines: tuple[OrderLine, ...]) -> Refusal | None:
        """Hold every ticket of the order (None), or none of them (the refusal says why)."""

    def confirm(self, order_id: str) -> None:
        """The held tickets are sold."""

    def release(self, order_id: str) -> None:
        """The held tickets go back on sale (nothing held: nothing to do)."""


class Payments(Protocol):
    def request(self, order_id: str, customer_id: str, amount: Decimal) -> PaymentStatus:
        """Ask for the payment (acknowledged at once, decided later); its status now."""

    def records(self, order_ids: list[str]) -> dict[str, PaymentRecord]:
        """The records of these orders' payments (those that exist)."""

    def status(self, order_id: str) -> PaymentRecord | None:
        """The record of the order's payment, if there is one."""

    def cancel(self, order_id: str) -> PaymentRecord:
        """Cancel an undecided payment (then it is never approved); what it is now."""

    def refund(self, order_id: str) -> PaymentRecord | None:
        """Give an approved payment back; None if there is no payment."""


class Orders(Protocol):
    def record_outcome(self, order_id: str, status: OrderStatus, reason: str | None) -> None:
        """The order ends so; ConflictingOutcome if it ended otherwise already."""

    def pending_before(self, moment_iso: str, limit: int = 100, following: str | None = None
                       ) -> tuple[list[dict[str, Any]], str | None]:
        """A page of the PENDING orders created before a moment, oldest first, and the link to
        the next page (None after the last); `following` is that link, to read the next page."""


class Services(Protocol):
    """What a step's body is handed: the three services, and how long a payment is waited for."""

    @property
    def inventory(self) -> Inventory: ...

    @property
    def payments(self) -> Payments: ...

    @property
    def orders(self) -> Orders: ...

    @property
    def payment_wait_s(self) -> float: ...
