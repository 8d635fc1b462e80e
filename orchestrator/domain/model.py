"""The saga's states, the order status each one ends in, and the messages it reads (declared in
glastonbury.contracts.messages; the saga itself, the aggregate, is `orchestrator.domain.saga`).

Plain Python: the rules here are tested without Celery, Kafka or a database.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Any

# The messages the saga reads are the published language's (the writers import them too).
from glastonbury.contracts.limits import REASON_MAX_LENGTH
from glastonbury.contracts.messages import (MESSAGE_VERSION, InvalidMessage, OrderLine,
                                            OrderPlaced, PaymentDecided)

__all__ = ["InvalidMessage", "OrderLine", "OrderPlaced", "PaymentDecided"]


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


def customer_reason(text: str) -> str:
    """A reason the order service will store: printable, and cut to length with an ellipsis."""
    printable = "".join(ch for ch in text if ch.isprintable() or ch == " ")
    if len(printable) <= REASON_MAX_LENGTH:
        return printable
    return printable[:REASON_MAX_LENGTH - 1] + "…"


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
