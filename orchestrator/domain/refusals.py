"""Why the inventory held none of an order's tickets, and what the customer reads about it.

The customer's reason never carries a stock figure ("969 available" would tell a bot exactly
how much to ask for): the inventory's own words, counts included, go to the reserve step's
record for operators (the dashboard, `celery saga show`).
"""

from __future__ import annotations

from dataclasses import dataclass

from glastonbury.contracts.errors import (OUT_OF_STOCK, OVER_CUSTOMER_LIMIT, OVER_ORDER_LIMIT,
                                       PRICE_CHANGED, UNKNOWN_TICKET)

REASONS = {
    OUT_OF_STOCK: "Not enough tickets left.",
    OVER_ORDER_LIMIT: "The order asks more tickets than one order may.",
    OVER_CUSTOMER_LIMIT: "You may hold no more of these tickets at once.",
    PRICE_CHANGED: "A ticket's price changed since the order was placed; nothing was charged.",
    UNKNOWN_TICKET: "The order names a ticket that is not sold.",
}
NOT_HELD = "The tickets could not be held."
LIMIT_REASONS = {
    OVER_ORDER_LIMIT: "One order may ask at most {limit} {name} tickets.",
    OVER_CUSTOMER_LIMIT: "You may hold at most {limit} {name} tickets at once.",
}


@dataclass(frozen=True)
class TicketLimit:
    """A limit the order passed: the ticket's name and the most it allows."""

    name: str
    limit: int


@dataclass(frozen=True)
class Refusal:
    """A business "no" from the inventory: its code, its message (for operators: it may name
    stock figures), and the limits it names when the order passed one."""

    code: str
    message: str
    limits: tuple[TicketLimit, ...] = ()

    def customer_reason(self) -> str:
        """What the customer reads: why, in words, with the limit where one was passed, and
        never a count of the stock."""
        sentence = LIMIT_REASONS.get(self.code)
        if sentence and self.limits:
            return " ".join(sentence.format(name=limit.name, limit=limit.limit)
                            for limit in self.limits)
        return REASONS.get(self.code, NOT_HELD)

    @property
    def record(self) -> str:
        """What the step's record keeps: the inventory's whole answer."""
        return f"{self.code}: {self.message}"
