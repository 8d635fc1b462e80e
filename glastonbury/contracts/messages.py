"""The messages between the parts, each with its version: what the writer sends and the reader
reads, one model for both.

- `OrderPlaced`: the one argument of the task `saga.start`, which the order service sends when an
  order is placed (and the orchestrator's reconciler, from the order service's record, when it
  was lost); the orchestrator reads it.
- `PaymentDecided`: the payment service's verdict on a payment, published on the payment results
  topic (Kafka) through its outbox; the orchestrator's bridge reads it.

Ids travel as text, amounts as `"0.00"` text (`money.money_text`). A reader refuses a message it
cannot read with `InvalidMessage` (parked, never retried).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from glastonbury.contracts.ids import canonical_uuid
from glastonbury.contracts.money import money_text
from glastonbury.contracts.statuses import DECIDED, PaymentStatus

MESSAGE_VERSION = 1


class InvalidMessage(ValueError):
    """A message that cannot be read: it is parked, never retried."""


def require_version(message: dict[str, Any]) -> None:
    if message.get("version") != MESSAGE_VERSION:
        raise InvalidMessage(f"unsupported message version {message.get('version')!r}")


@dataclass(frozen=True)
class OrderLine:
    """Some tickets of one kind at the unit price the order was placed at (the inventory checks
    it against its catalogue); the name only tells a reader which tickets they are."""

    ticket_id: str
    quantity: int
    unit_price: Decimal | None = None
    name: str | None = field(default=None, compare=False)


@dataclass(frozen=True)
class OrderPlaced:
    """`saga.start`'s message: what the saga needs to know of an order."""

    order_id: str
    customer_id: str
    total: Decimal
    lines: tuple[OrderLine, ...]

    def to_message(self) -> dict[str, Any]:
        return {
            "version": MESSAGE_VERSION,
            "orderId": self.order_id,
            "customerId": self.customer_id,
            "total": money_text(self.total),
            "items": [
                {"ticketId": line.ticket_id,
                 **({"name": line.name} if line.name is not None else {}),
                 "quantity": line.quantity,
                 **({"amount": money_text(line.unit_price)}
                    if line.unit_price is not None else {})}
                for line in self.lines
            ],
        }

    @classmethod
    def from_message(cls, message: dict[str, Any]) -> OrderPlaced:
        """The message read; InvalidMessage if it cannot be, or if its sums do not add up."""
        require_version(message)
        try:
            lines = tuple(OrderLine(str(item["ticketId"]), int(item["quantity"]),
                                    Decimal(str(item["amount"])))
                          for item in message["items"])
            order = cls(str(message["orderId"]), str(message["customerId"]),
                        Decimal(str(message["total"])), lines)
        except (KeyError, TypeError, ValueError, InvalidOperation) as error:
            raise InvalidMessage(f"unreadable order message: {error!r}") from None
        order._check_the_sums()
        return order

    @classmethod
    def from_order(cls, order: dict[str, Any]) -> OrderPlaced:
        """The order service's order resource (`GET /orders`) as the message it sent."""
        try:
            lines = tuple(OrderLine(str(item["id"]), item["quantity"],
                                    Decimal(str(item["amount"])), item.get("name"))
                          for item in order["items"])
            return cls(str(order["id"]), str(order["customerId"]), Decimal(str(order["total"])),
                       lines)
        except (KeyError, TypeError, AttributeError, InvalidOperation) as error:
            raise InvalidMessage(f"unreadable order resource: {error!r}") from None

    def _check_the_sums(self) -> None:
        # Each line states the price it was placed at (the inventory holds none without the
        # catalogue's), and the total is theirs: a total of its own would be paid instead.
        if not self.lines or any(line.quantity < 1 for line in self.lines):
            raise InvalidMessage("an order message needs lines of at least one ticket")
        lines_total = sum((line.quantity * line.unit_price for line in self.lines
                           if line.unit_price is not None), Decimal(0))
        if lines_total != self.total:
            raise InvalidMessage(f"the order's total {self.total} is not its lines' "
                                 f"{lines_total}")


PAYMENT_DECIDED = "PaymentDecided"   # the message's `type`


@dataclass(frozen=True)
class PaymentDecided:
    """The payment service's verdict on an order's payment; readers deduplicate by `event_id`.

    `trace` is not in the body: it is the trace the message came in (its W3C `traceparent`
    header), which what the saga sends next continues."""

    event_id: str
    order_id: str
    approved: bool
    reason: str | None
    payment_id: str | None = None
    amount: Decimal | None = None
    trace: str | None = field(default=None, compare=False)
    decided_at: datetime | None = field(default=None, compare=False)

    @property
    def status(self) -> PaymentStatus:
        return PaymentStatus.APPROVED if self.approved else PaymentStatus.DECLINED

    def to_message(self) -> dict[str, Any]:
        return {
            "version": MESSAGE_VERSION,
            "eventId": self.event_id,
            "type": PAYMENT_DECIDED,
            "orderId": self.order_id,
            "paymentId": self.payment_id,
            "status": self.status.value,
            "reason": self.reason,
            "amount": None if self.amount is None else money_text(self.amount),
            "decidedAt": None if self.decided_at is None else self.decided_at.isoformat(),
        }

    def to_json(self) -> str:
        """The message as UTF-8-ready JSON text."""
        return json.dumps(self.to_message(), separators=(",", ":"))

    @classmethod
    def from_message(cls, message: Any, trace: str | None = None) -> PaymentDecided:
        """The message read; InvalidMessage if it cannot be."""
        if not isinstance(message, dict):
            raise InvalidMessage("a payment result must be a JSON object")
        require_version(message)
        if message.get("type") != PAYMENT_DECIDED:
            raise InvalidMessage(f"unknown message type {message.get('type')!r}")
        status = message.get("status")
        if status not in DECIDED:
            raise InvalidMessage(f"unknown payment status {status!r}")
        # Ids are UUIDs: anything else (over-long, malformed) could not even be stored.
        event_id, order_id, payment_id = (_uuid(message, name)
                                          for name in ("eventId", "orderId", "paymentId"))
        try:
            amount = Decimal(str(message["amount"]))
        except (KeyError, InvalidOperation):
            raise InvalidMessage("amount must be a decimal number") from None
        if not amount.is_finite():
            raise InvalidMessage("amount must be a decimal number")
        reason = message.get("reason")
        reason = reason if isinstance(reason, str) else None
        return cls(event_id, order_id, status == PaymentStatus.APPROVED, reason, payment_id,
                   amount, trace)


def _uuid(message: dict[str, Any], name: str) -> str:
    try:
        return str(canonical_uuid(message.get(name)))
    except ValueError:
        raise InvalidMessage(f"{name} must be a UUID") from None
