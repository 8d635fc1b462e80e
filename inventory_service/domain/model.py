"""Tickets, reservations and the rules that hold stock for an order.

The stock itself lives behind the `Stock` port: its `take` must be atomic (the database does it
with a conditional UPDATE), so that two orders can never both take the last ticket. What each
customer holds lives behind the `Holdings` port, whose `add` is atomic the same way, so that
concurrent orders of one customer can never together hold more than the ticket's limit.
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
    Excess,
    OutOfStock,
    OverCustomerLimit,
    OverOrderLimit,
    PriceChanged,
    PriceDifference,
    ReservationReleased,
    Shortage,
    UnknownTicket,
)

# Glastonbury's own rule, "up to six tickets a booking"; and as many for one buyer at once, so
# that a buyer cannot take more by splitting an order.
DEFAULT_MAX_PER_ORDER = 6
DEFAULT_MAX_PER_CUSTOMER = 6


@dataclass(frozen=True)
class Limits:
    """What one order may ask of a ticket, and what one customer may hold of it at once across
    their orders (held, waiting for their payment, or sold): the seller's answer to hoarders."""

    per_order: int = DEFAULT_MAX_PER_ORDER
    per_customer: int = DEFAULT_MAX_PER_CUSTOMER

    def __post_init__(self) -> None:
        if self.per_order < 1 or self.per_customer < 1:
            raise ValueError("a limit is at least 1")


DEFAULT_LIMITS = Limits()


@dataclass(frozen=True)
class Ticket:
    """A kind of ticket, how many of it are left to sell, its price and its limits: the
    catalogue is the authority on what a ticket costs (None: not priced yet, so not for sale)."""

    id: UUID
    name: str
    available: int
    price: Decimal | None = None
    limits: Limits = DEFAULT_LIMITS

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


@dataclass(frozen=True)
class OrderedLine:
    """A line of an order as the orchestrator asks to hold it: the price is the one the order
    was placed at, and must be the catalogue's."""

    ticket_id: UUID
    quantity: int
    unit_price: Decimal


@dataclass(frozen=True)
class HoldRequest:
    """An order's request for its tickets: whose order it is, and every line with its price."""

    order_id: UUID
    customer_id: UUID
    lines: tuple[OrderedLine, ...]


@dataclass
class Reservation:
    """The tickets one order holds; the order id is its identity. The customer's is None for a
    tombstone, and for a reservation made before customers were counted."""

    order_id: UUID
    status: ReservationStatus
    lines: tuple[Line, ...] = field(default=())
    customer_id: UUID | None = None

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
    """Where the tickets and their available counts live. `take` must be atomic against
    concurrent takers."""

    def tickets(self, ticket_ids: list[UUID]) -> dict[UUID, Ticket]: ...

    def take(self, ticket_id: UUID, quantity: int) -> bool: ...

    def give_back(self, ticket_id: UUID, quantity: int) -> None: ...

    def available(self, ticket_id: UUID) -> int: ...


class Holdings(Protocol):
    """How many of each ticket each customer holds. `add` must be atomic against concurrent
    adders: it adds only while the total stays within `limit`."""

    def add(self, customer_id: UUID, ticket_id: UUID, quantity: int, limit: int) -> bool: ...

    def give_back(self, customer_id: UUID, ticket_id: UUID, quantity: int) -> None: ...

    def held(self, customer_id: UUID, ticket_id: UUID) -> int: ...


def check_prices(lines: Iterable[OrderedLine], tickets: dict[UUID, Ticket]) -> None:
    """Every line's unit price must be the catalogue's, or nothing is held (each line: two
    lines of one ticket cannot slip a made-up price in beside the right one)."""
    differing: dict[UUID, PriceDifference] = {}
    for line in lines:
        price = tickets[line.ticket_id].price
        if line.unit_price != price and line.ticket_id not in differing:
            differing[line.ticket_id] = PriceDifference(line.ticket_id, line.unit_price, price)
    if differing:
        raise PriceChanged(list(differing.values()))


def check_order_limits(merged: tuple[Line, ...], tickets: dict[UUID, Ticket]) -> None:
    """No order asks more of a ticket than one order may (its lines of that ticket added)."""
    excesses = [Excess(line.ticket_id, tickets[line.ticket_id].name, line.quantity,
                       tickets[line.ticket_id].limits.per_order)
                for line in merged if line.quantity > tickets[line.ticket_id].limits.per_order]
    if excesses:
        raise OverOrderLimit(excesses)


def hold(request: HoldRequest, stock: Stock, holdings: Holdings) -> Reservation:
    """Hold every line for the order, at the catalogue's prices and within the tickets' limits,
    or nothing at all: a new HELD reservation.

    The customer's count is taken before the stock, in both in ticket id order (and given back
    in the same order, see `give_back`): transactions that lock rows in one order cannot
    deadlock, and a customer over their limit never queues for a ticket's row.
    """
    merged = merge_lines(Line(line.ticket_id, line.quantity) for line in request.lines)
    if not merged:
        raise ValueError("a reservation needs at least one line")
    tickets = _as_the_catalogue_allows(request, merged, stock)
    _count_for_customer(request.customer_id, merged, tickets, holdings)
    _take_from_stock(request.customer_id, merged, stock, holdings)
    return Reservation(request.order_id, ReservationStatus.HELD, merged, request.customer_id)


def give_back(customer_id: UUID | None, lines: tuple[Line, ...], holdings: Holdings,
              stock: Stock) -> None:
    """The lines go back on sale and off their customer's count (none: a reservation made
    before customers were counted), the count first, as `hold` takes them."""
    if customer_id is not None:
        for line in lines:
            holdings.give_back(customer_id, line.ticket_id, line.quantity)
    for line in lines:
        stock.give_back(line.ticket_id, line.quantity)


def _as_the_catalogue_allows(request: HoldRequest, merged: tuple[Line, ...],
                             stock: Stock) -> dict[UUID, Ticket]:
    """The order's tickets, once each exists, is ordered at its price and within what one
    order may ask."""
    tickets = stock.tickets([line.ticket_id for line in merged])
    unknown = [line.ticket_id for line in merged if line.ticket_id not in tickets]
    if unknown:
        raise UnknownTicket(unknown)
    check_prices(request.lines, tickets)
    check_order_limits(merged, tickets)
    return tickets


def _take_from_stock(customer_id: UUID, merged: tuple[Line, ...], stock: Stock,
                     holdings: Holdings) -> None:
    taken = [line for line in merged if stock.take(line.ticket_id, line.quantity)]
    if len(taken) < len(merged):
        # The caller's transaction rolls back too; giving back here keeps the rule
        # all-or-nothing for any stock, not only a transactional one.
        shortages = _shortages(merged, taken, stock)
        for line in merged:
            holdings.give_back(customer_id, line.ticket_id, line.quantity)
        for line in taken:
            stock.give_back(line.ticket_id, line.quantity)
        raise OutOfStock(shortages)


def _count_for_customer(customer_id: UUID, merged: tuple[Line, ...], tickets: dict[UUID, Ticket],
                        holdings: Holdings) -> None:
    counted = [line for line in merged
               if holdings.add(customer_id, line.ticket_id, line.quantity,
                               tickets[line.ticket_id].limits.per_customer)]
    if len(counted) < len(merged):
        excesses = [Excess(line.ticket_id, tickets[line.ticket_id].name, line.quantity,
                           tickets[line.ticket_id].limits.per_customer,
                           holdings.held(customer_id, line.ticket_id))
                    for line in merged if line not in counted]
        for line in counted:
            holdings.give_back(customer_id, line.ticket_id, line.quantity)
        raise OverCustomerLimit(excesses)


def _shortages(merged: tuple[Line, ...], taken: list[Line], stock: Stock) -> list[Shortage]:
    return [Shortage(line.ticket_id, line.quantity, stock.available(line.ticket_id))
            for line in merged if line not in taken]
