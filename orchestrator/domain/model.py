"""The saga's states, the order status each one ends in, and the messages it reads (the saga
itself, the aggregate, is `orchestrator.domain.saga`).

Plain Python: the rules here are tested without Celery, Kafka or a database.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from enum import StrEnum
from typing import Any

MESSAGE_VERSION = 1


class SagaState(StrEnum):
    STARTED = "STARTED"                    # recorded; the reservation is next
    RESERVED = "RESERVED"                  # tickets held; the payment request is next
    AWAITING_PAYMENT = "AWAITING_PAYMENT"  # payment requested: a row until the result or deadline
    APPROVED = "APPROVED"                  # paid: only forward from here (confirm, complete)
    COMPENSATING = "COMPENSATING"          # undoing what was done; `outcome` says how it ends
    COMPLETED = "COMPLETED"
    REJECTED = "REJECTED"
    PAYMENT_FAILED = "PAYMENT_FAILED"


TERMINAL = frozenset({SagaState.COMPLETED, SagaState.REJECTED, SagaState.PAYMENT_FAILED})
LIVE = tuple(state for state in SagaState if state not in TERMINAL)
GAVE_UP = frozenset({SagaState.COMPENSATING, SagaState.REJECTED, SagaState.PAYMENT_FAILED})
# A payment may exist once it was asked for, even if the answer never came back.
PAYMENT_MAY_EXIST = (SagaState.RESERVED, SagaState.AWAITING_PAYMENT)


class InvalidMessage(ValueError):
    """A message that cannot be read: it is parked, never retried."""


@dataclass(frozen=True)
class OrderLine:
    ticket_id: str
    quantity: int
    unit_price: Decimal | None = None   # what the order was placed at; the inventory checks it


@dataclass(frozen=True)
class OrderPlaced:
    """The order service's `saga.start` message: what the saga needs to know of the order."""

    order_id: str
    customer_id: str
    total: Decimal
    lines: tuple[OrderLine, ...]

    @classmethod
    def from_message(cls, message: dict[str, Any]) -> OrderPlaced:
        _require_version(message)
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

    @staticmethod
    def message_from_order(order: dict[str, Any]) -> dict[str, Any]:
        """The order service's order resource (GET /orders) as the `saga.start` message."""
        try:
            items = [{"ticketId": item["id"], "quantity": item["quantity"],
                      "amount": str(item["amount"])} for item in order["items"]]
            return {"version": MESSAGE_VERSION, "orderId": order["id"],
                    "customerId": order["customerId"], "total": str(order["total"]),
                    "items": items}
        except (KeyError, TypeError) as error:
            raise InvalidMessage(f"unreadable order resource: {error!r}") from None


@dataclass(frozen=True)
class PaymentDecided:
    """The payment service's verdict, as published on the payment results topic (or as its
    record says, when the orchestrator asked after the deadline)."""

    event_id: str
    order_id: str
    approved: bool
    reason: str | None
    payment_id: str | None = None
    amount: Decimal | None = None
    # The trace the message came in (W3C traceparent): what the saga sends next continues it.
    trace: str | None = field(default=None, compare=False)

    @property
    def status(self) -> str:
        return "APPROVED" if self.approved else "DECLINED"

    @classmethod
    def from_message(cls, message: Any, trace: str | None = None) -> PaymentDecided:
        if not isinstance(message, dict):
            raise InvalidMessage("a payment result must be a JSON object")
        _require_version(message)
        if message.get("type") != "PaymentDecided":
            raise InvalidMessage(f"unknown message type {message.get('type')!r}")
        status = message.get("status")
        if status not in ("APPROVED", "DECLINED"):
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
        return cls(event_id, order_id, status == "APPROVED", reason, payment_id, amount, trace)


def _uuid(message: dict[str, Any], name: str) -> str:
    value = message.get(name)
    try:
        if not isinstance(value, str) or len(value) > 36:
            raise ValueError
        return str(uuid.UUID(value))
    except ValueError:
        raise InvalidMessage(f"{name} must be a UUID") from None


REASON_MAX_LENGTH = 480  # the order service keeps at most 500 characters


def customer_reason(text: str) -> str:
    """A reason the order service will store: printable, and cut to length with an ellipsis."""
    printable = "".join(ch for ch in text if ch.isprintable() or ch == " ")
    if len(printable) <= REASON_MAX_LENGTH:
        return printable
    return printable[:REASON_MAX_LENGTH - 1] + "…"


def _require_version(message: dict[str, Any]) -> None:
    if message.get("version") != MESSAGE_VERSION:
        raise InvalidMessage(f"unsupported message version {message.get('version')!r}")


@dataclass(frozen=True)
class StepInput:
    """The one argument of every step: which saga. Versioned so fields can be added."""

    order_id: str
    version: int = MESSAGE_VERSION

    def as_message(self) -> dict[str, Any]:
        return {"version": self.version, "orderId": self.order_id}

    @classmethod
    def from_message(cls, message: Any) -> StepInput:
        if not isinstance(message, dict) or message.get("version") != MESSAGE_VERSION:
            raise InvalidMessage(f"unreadable step message {message!r}")
        return cls(str(message["orderId"]))
