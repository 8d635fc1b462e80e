"""An order of festival tickets, its statuses and the one rule of its outcome."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any

from glastonbury.contracts import messages
from glastonbury.contracts.money import money_text, whole_cents
from glastonbury.contracts.statuses import OrderStatus

__all__ = ["OrderStatus", "money_text"]


# A failed order always says why, even when the orchestrator sent no sentence of its own.
DEFAULT_REASONS = {
    OrderStatus.REJECTED: "The tickets are not in stock.",
    OrderStatus.PAYMENT_FAILED: "The payment was not effected.",
}


class ConflictingOutcome(Exception):
    """The order already ended with another outcome."""

    def __init__(self, order_id: uuid.UUID, current: OrderStatus, proposed: OrderStatus):
        super().__init__(
            f"Order {order_id} is already {current.value}; it cannot become {proposed.value}."
        )
        self.current, self.proposed = current, proposed


@dataclass(frozen=True)
class Listing:
    """What the catalogue says of one ticket: its name, its price (None: not for sale), and the
    most one order may ask of it (None: the catalogue does not say)."""

    name: str
    price: Decimal | None
    max_per_order: int | None = None


@dataclass(frozen=True)
class LineProblem:
    """What is wrong with one line of an order, by the catalogue."""

    index: int
    field: str          # "amount", "id" or "quantity"
    problem: str
    price: Decimal | None = None   # the catalogue's price, when the line names another
    limit: int | None = None       # the most one order may ask, when the order asks more


class IdempotencyKeyReused(Exception):
    """The customer already placed a different order with this Idempotency-Key."""

    def __init__(self, key: str):
        super().__init__(f"The Idempotency-Key {key!r} already names another order of this "
                         "customer's, with other tickets or another amount: use a new key "
                         "for a new order.")


class NotTheCatalogue(Exception):
    """Lines name tickets that do not exist or are not for sale, or another price."""

    def __init__(self, problems: list[LineProblem]):
        super().__init__("; ".join(f"items[{p.index}].{p.field}: {p.problem}" for p in problems))
        self.problems = problems


class OverOrderLimit(Exception):
    """The order asks more of a ticket than one order may."""

    def __init__(self, problems: list[LineProblem]):
        super().__init__("; ".join(f"items[{p.index}].{p.field}: {p.problem}" for p in problems))
        self.problems = problems


def check_against_catalogue(lines: list[OrderLine], catalogue: dict[uuid.UUID, Listing]) -> None:
    """Every line's unit price must be the catalogue's (prices come from the catalogue, never
    from the customer); raises NotTheCatalogue naming each line that is not."""
    problems = []
    for index, line in enumerate(lines):
        if line.ticket_id not in catalogue:
            problems.append(LineProblem(index, "id", f"no ticket {line.ticket_id}"))
            continue
        price = catalogue[line.ticket_id].price
        if price is None:
            problems.append(LineProblem(index, "id", "this ticket is not for sale"))
        elif price != line.amount:
            problems.append(LineProblem(
                index, "amount", f"the price of {line.name!r} is {money_text(price)}, "
                f"not {money_text(line.amount)}", price))
    if problems:
        raise NotTheCatalogue(problems)


def check_order_limits(lines: list[OrderLine], catalogue: dict[uuid.UUID, Listing]) -> None:
    """No order asks more of a ticket than one order may, its lines of that ticket added;
    raises OverOrderLimit naming the first line of each such ticket, with the limit."""
    asked: dict[uuid.UUID, int] = {}
    first: dict[uuid.UUID, int] = {}
    for index, line in enumerate(lines):
        asked[line.ticket_id] = asked.get(line.ticket_id, 0) + line.quantity
        first.setdefault(line.ticket_id, index)
    problems = []
    for ticket_id, quantity in asked.items():
        listing = catalogue.get(ticket_id)
        if listing is None or listing.max_per_order is None or quantity <= listing.max_per_order:
            continue
        limit = listing.max_per_order
        problems.append(LineProblem(
            first[ticket_id], "quantity", f"one order may ask at most {limit} {listing.name} "
            f"tickets; this one asks {quantity}", limit=limit))
    if problems:
        raise OverOrderLimit(problems)


@dataclass(frozen=True)
class OrderLine:
    """Some tickets of one kind: `amount` is the price of one ticket."""

    ticket_id: uuid.UUID
    name: str
    amount: Decimal
    quantity: int

    @property
    def subtotal(self) -> Decimal:
        return self.amount * self.quantity


@dataclass
class Order:
    """A customer's order; `amount` is what the customer declared, kept as sent."""

    id: uuid.UUID
    customer_id: uuid.UUID
    amount: Decimal
    lines: list[OrderLine]
    created_at: datetime
    updated_at: datetime
    status: OrderStatus = OrderStatus.PENDING
    reason: str | None = None
    idempotency_key: str | None = field(default=None, compare=False)

    @classmethod
    def place(
        cls,
        customer_id: uuid.UUID,
        amount: Decimal,
        lines: list[OrderLine],
        now: datetime,
        idempotency_key: str | None = None,
    ) -> Order:
        """A new PENDING order with a fresh id."""
        return cls(uuid.uuid4(), customer_id, amount, list(lines), now, now,
                   idempotency_key=idempotency_key)

    def placed_as(self, amount: Decimal, lines: list[OrderLine]) -> bool:
        """Whether a request for `amount` and `lines` is this order's own, sent again."""
        return self.amount == amount and self.lines == list(lines)

    @property
    def total(self) -> Decimal:
        """What the tickets cost: the sum of amount x quantity over the lines."""
        return whole_cents(sum((line.subtotal for line in self.lines), Decimal(0)))

    def record_outcome(self, status: OrderStatus, reason: str | None, now: datetime) -> bool:
        """End the order with `status`; False if it already ended so (a repeat is a no-op)."""
        outcome = Outcome.of(status, reason, now)
        if self.status is status:
            return False
        if self.status.is_terminal:
            raise ConflictingOutcome(self.id, self.status, status)
        self.status, self.reason, self.updated_at = outcome.status, outcome.reason, outcome.at
        return True


@dataclass(frozen=True)
class Outcome:
    """How an order ends: its final status, the reason a failed one gives, and when. Only a
    PENDING order takes one (`Order.record_outcome`; the repository's `end` in one write)."""

    status: OrderStatus
    reason: str | None
    at: datetime

    @classmethod
    def of(cls, status: OrderStatus, reason: str | None, at: datetime) -> Outcome:
        if not status.is_terminal:
            raise ValueError("an outcome must be a terminal status")
        return cls(status,
                   (reason or DEFAULT_REASONS[status]) if status in DEFAULT_REASONS else None, at)


def order_message(order: Order) -> dict[str, Any]:
    """The saga's input (`saga.start`'s one argument, glastonbury.contracts.messages)."""
    return messages.OrderPlaced(
        str(order.id), str(order.customer_id), order.total,
        tuple(messages.OrderLine(str(line.ticket_id), line.quantity, line.amount, line.name)
              for line in order.lines)).to_message()
