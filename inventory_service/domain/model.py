"""Tickets, reservations and the rules that hold stock for an order.

The stock itself lives behind the `Stock` port: its `take` must be atomic (the database does it
with a conditional UPDATE), so that two orders can never both take the last ticket.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Protocol
from uuid import UUID

from inventory_service.domain.exceptions import (
    AlreadyConfirmed,
    OutOfStock,
    PriceChanged,
    PriceDifference,
    ReservationReleased,
    Shortage,
    UnknownTicket,
)


@dataclass(frozen=True)
class Ticket:
    """A kind of ticket, how many of it are left to sell, and its price: the catalogue is the
    authority on what a ticket costs (None: not priced yet, so not for sale)."""

    id: UUID
    name: str
    available: int
    price: Decimal | None = None

    def __post_init__(self) -> None:
        if self.available < 0:
            raise ValueError("available must not be negative")


class ReservationStatus(str, enum.Enum):
    HELD = "HELD"
    CONFIRMED = "CONFIRMED"
    RELEASED = "RELEASED"


@dataclass(frozen=True, order=True)
class Line:
    """A quantity of one ticket held by a reservation."""

    ticket_id: UUID
    quantity: int

    def __post_init__(self) -> None:
        if self.quantity < 1:
            raise ValueError("quantity must be at least 1")


def merge_lines(lines: Iterable[Line]) -> tuple[Line, ...]:
    """One line a ticket, quantities added, sorted by ticket id.

    The fixed order matters: transactions that lock tickets in the same order cannot deadlock.
    """
    totals: dict[UUID, int] = {}
    for line in lines:
        totals[line.ticket_id] = totals.get(line.ticket_id, 0) + line.quantity
    return tuple(sorted(Line(ticket_id, quantity) for ticket_id, quantity in totals.items()))


@dataclass
class Reservation:
    """The tickets one order holds; the order id is its identity."""

    order_id: UUID
    status: ReservationStatus
    lines: tuple[Line, ...] = field(default=())

    @classmethod
    def tombstone(cls, order_id: UUID) -> Reservation:
        """A released reservation that never held anything, so that a late reserve is refused."""
        return cls(order_id, ReservationStatus.RELEASED)

    def ensure_can_be_reserved_again(self) -> None:
        """A repeated reserve returns a live reservation as it is; a released one stays released."""
        if self.status is ReservationStatus.RELEASED:
            raise ReservationReleased(self.order_id)

    def release(self) -> tuple[Line, ...]:
        """Release the reservation: the lines whose stock goes back (none if released already)."""
        if self.status is ReservationStatus.CONFIRMED:
            raise AlreadyConfirmed(self.order_id)
        if self.status is ReservationStatus.RELEASED:
            return ()
        self.status = ReservationStatus.RELEASED
        return self.lines

    def confirm(self) -> bool:
        """Confirm a held reservation; False if it was confirmed already."""
        if self.status is ReservationStatus.RELEASED:
            raise ReservationReleased(self.order_id)
        if self.status is ReservationStatus.CONFIRMED:
            return False
        self.status = ReservationStatus.CONFIRMED
        return True


class Stock(Protocol):
    """Where the available counts live. `take` must be atomic against concurrent takers."""

    def missing(self, ticket_ids: list[UUID]) -> list[UUID]: ...

    def take(self, ticket_id: UUID, quantity: int) -> bool: ...

    def give_back(self, ticket_id: UUID, quantity: int) -> None: ...

    def available(self, ticket_id: UUID) -> int: ...


def check_prices(expected: dict[UUID, Decimal], catalogue: dict[UUID, Decimal | None]) -> None:
    """The unit prices an order was placed at must be the catalogue's, or nothing is held."""
    differing = [PriceDifference(ticket_id, price, catalogue.get(ticket_id))
                 for ticket_id, price in expected.items() if catalogue.get(ticket_id) != price]
    if differing:
        raise PriceChanged(differing)


def hold(order_id: UUID, lines: Iterable[Line], stock: Stock) -> Reservation:
    """Take every line's quantity from stock, or none of them: a new HELD reservation."""
    merged = merge_lines(lines)
    if not merged:
        raise ValueError("a reservation needs at least one line")
    unknown = stock.missing([line.ticket_id for line in merged])
    if unknown:
        raise UnknownTicket(unknown)
    taken = [line for line in merged if stock.take(line.ticket_id, line.quantity)]
    if len(taken) < len(merged):
        # The caller's transaction rolls back too; giving back here keeps the rule
        # all-or-nothing for any stock, not only a transactional one.
        for line in taken:
            stock.give_back(line.ticket_id, line.quantity)
        raise OutOfStock(_shortages(merged, taken, stock))
    return Reservation(order_id, ReservationStatus.HELD, merged)


def _shortages(merged: tuple[Line, ...], taken: list[Line], stock: Stock) -> list[Shortage]:
    return [Shortage(line.ticket_id, line.quantity, stock.available(line.ticket_id))
            for line in merged if line not in taken]
