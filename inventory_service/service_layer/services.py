"""The use cases: each runs in one transaction of the unit of work it is given."""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from typing import TypeVar
from uuid import UUID, uuid4

from inventory_service.adapters.repository import DuplicateKey
from inventory_service.domain import model
from inventory_service.domain.exceptions import (
    InventoryError,
    ReservationNotFound,
    TicketAlreadyExists,
    TicketNotFound,
)
from inventory_service.domain.model import (DEFAULT_LIMITS, HoldRequest, Limits, Reservation,
                                            Ticket)
from inventory_service.service_layer.unit_of_work import UnitOfWork

Result = TypeVar("Result")

DAY_ONE = UUID("3852cb18-9c19-4326-ac77-a1a0264bd98c")
DEFAULT_TICKETS = (Ticket(DAY_ONE, "day-one", 1000, Decimal("200.00")),)


def reserve(uow: UnitOfWork, request: HoldRequest) -> tuple[Reservation, bool]:
    """Hold the order's tickets, all or nothing, at the catalogue's prices and within the
    tickets' limits, counted against the customer in the same transaction; (reservation, True
    if it was created now)."""

    def attempt() -> tuple[Reservation, bool]:
        with uow:
            existing = uow.reservations.get(request.order_id, for_update=True)
            if existing:
                existing.ensure_can_be_reserved_again()
                return existing, False
            reservation = model.hold(request, uow.tickets, uow.holdings)
            uow.reservations.add(reservation)
            uow.commit()
            return reservation, True

    return _retried_once_if_raced(attempt)


def release(uow: UnitOfWork, order_id: UUID) -> Reservation:
    """Release the order's reservation and return its stock, once; tombstone an unknown order."""

    def attempt() -> Reservation:
        with uow:
            reservation = uow.reservations.get(order_id, for_update=True)
            if reservation is None:
                # The compensation may overtake the reserve it undoes: remember the order as
                # released so that the late reserve is refused instead of holding stock forever.
                reservation = Reservation.tombstone(order_id)
                uow.reservations.add(reservation)
            else:
                model.give_back(reservation.customer_id, reservation.release(), uow.holdings,
                                uow.tickets)
                uow.reservations.save_status(reservation)
            uow.commit()
            return reservation

    return _retried_once_if_raced(attempt)


def confirm(uow: UnitOfWork, order_id: UUID) -> Reservation:
    """Confirm the order's held reservation (a repeat is a no-op): one compare-and-set, and
    the reservation read as it stands."""
    with uow:
        confirmed = uow.reservations.confirm_if_held(order_id)
        reservation = _found(uow.reservations.get(order_id), ReservationNotFound(order_id))
        if confirmed:
            uow.commit()
        else:
            reservation.confirm()   # a repeat, or ReservationReleased
        return reservation


def get_reservation(uow: UnitOfWork, order_id: UUID) -> Reservation:
    """The order's reservation, tombstones included."""
    with uow:
        return _found(uow.reservations.get(order_id), ReservationNotFound(order_id))


def create_ticket(uow: UnitOfWork, name: str, available: int,
                  ticket_id: UUID | None = None, price: Decimal | None = None,
                  limits: Limits = DEFAULT_LIMITS) -> Ticket:
    """Add a kind of ticket with its stock, price and limits; TicketAlreadyExists if the id is
    taken."""
    ticket = Ticket(ticket_id or uuid4(), name, available, price, limits)
    try:
        with uow:
            uow.tickets.add(ticket)
            uow.commit()
    except DuplicateKey:
        raise TicketAlreadyExists(ticket.id) from None
    return ticket


def set_price(uow: UnitOfWork, ticket_id: UUID, price: Decimal) -> Ticket:
    """The catalogue's new price of a ticket (orders placed at the old one are refused)."""
    with uow:
        if not uow.tickets.set_price(ticket_id, price):
            raise TicketNotFound(ticket_id)
        uow.commit()
    return get_ticket(uow, ticket_id)


def set_limits(uow: UnitOfWork, ticket_id: UUID, limits: Limits) -> Ticket:
    """The ticket's new limits, for the orders reserved from now on (what customers hold
    already stays held, but counts against the new limit)."""
    with uow:
        if not uow.tickets.set_limits(ticket_id, limits):
            raise TicketNotFound(ticket_id)
        uow.commit()
    return get_ticket(uow, ticket_id)


def get_ticket(uow: UnitOfWork, ticket_id: UUID) -> Ticket:
    """The ticket with its current stock."""
    with uow:
        return _found(uow.tickets.get(ticket_id), TicketNotFound(ticket_id))


def list_tickets(uow: UnitOfWork, ids: list[UUID] | None = None) -> list[Ticket]:
    """Every ticket with its current stock, or those of `ids` that exist."""
    with uow:
        return uow.tickets.list_all(ids)


def seed_default_tickets(uow: UnitOfWork) -> None:
    """Create the festival's default tickets that do not exist yet.

    Several server processes start at once and all seed: the primary key decides which one
    inserts, and the others find the ticket exists, so a seed never resets sold stock.
    """
    for ticket in DEFAULT_TICKETS:
        try:
            create_ticket(uow, ticket.name, ticket.available, ticket.id, ticket.price,
                          ticket.limits)
        except TicketAlreadyExists:
            pass


def _found(value: Result | None, missing: InventoryError) -> Result:
    if value is None:
        raise missing
    return value


def _retried_once_if_raced(attempt: Callable[[], Result]) -> Result:
    # Two requests for the same new order may both find no reservation and both insert one; the
    # loser's insert fails on the key once the winner commits. Its retry reads the winner's row.
    try:
        return attempt()
    except DuplicateKey:
        return attempt()
