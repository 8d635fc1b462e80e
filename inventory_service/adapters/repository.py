"""Repositories over one SQLAlchemy connection (the unit of work's transaction)."""

from __future__ import annotations

from decimal import Decimal
from functools import cache
from typing import Any
from uuid import UUID

from sqlalchemy import Connection, Executable, Row, bindparam, insert, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import IntegrityError

from glastonbury.db import insert_with_children
from inventory_service.adapters.tables import (customer_holdings, reservation_lines,
                                               reservations, tickets)
from inventory_service.domain.model import Limits, Line, Reservation, ReservationStatus, Ticket

# The statements of a reservation, built once with bind parameters: each is compiled once per
# process instead of rebuilt and re-keyed by SQLAlchemy on every request (a third of a
# reservation's CPU went there).
TICKETS_OF = select(tickets).where(tickets.c.id.in_(bindparam("ids", expanding=True)))
SET_PRICE = (update(tickets).where(tickets.c.id == bindparam("key_id"))
             .values(price=bindparam("price")))
SET_LIMITS = (update(tickets).where(tickets.c.id == bindparam("key_id"))
              .values(max_per_order=bindparam("per_order"),
                      max_per_customer=bindparam("per_customer")))
TAKE_IF_ENOUGH = (update(tickets)
                  .where(tickets.c.id == bindparam("ticket_id"),
                         tickets.c.available >= bindparam("quantity"))
                  .values(available=tickets.c.available - bindparam("quantity")))
GIVE_BACK = (update(tickets).where(tickets.c.id == bindparam("ticket_id"))
             .values(available=tickets.c.available + bindparam("quantity")))
# A reservation and its lines in one statement (a round trip to a database server, not two);
# locked, only the reservation's row (a tombstone has no lines).
RESERVATION_OF = (select(reservations.c.status, reservations.c.customer_id,
                         reservation_lines.c.ticket_id, reservation_lines.c.quantity)
                  .outerjoin(reservation_lines,
                             reservation_lines.c.order_id == reservations.c.order_id)
                  .where(reservations.c.order_id == bindparam("order_id"))
                  .order_by(reservation_lines.c.ticket_id))
RESERVATION_OF_FOR_UPDATE = RESERVATION_OF.with_for_update(of=reservations)
NEW_RESERVATION = insert(reservations).values(order_id=bindparam("order_id"),
                                              status=bindparam("status"),
                                              customer_id=bindparam("customer_id"))
# (A parameter of an UPDATE's WHERE may not bear the name of a column it sets: `key_...`.)
SET_STATUS = (update(reservations).where(reservations.c.order_id == bindparam("key_order_id"))
              .values(status=bindparam("status")))
# A confirmation as a compare-and-set: only a HELD reservation is confirmed, the database
# deciding under the row's lock.
CONFIRM_IF_HELD = (update(reservations)
                   .where(reservations.c.order_id == bindparam("key_order_id"),
                          reservations.c.status == ReservationStatus.HELD.value)
                   .values(status=ReservationStatus.CONFIRMED.value))
HELD_BY = select(customer_holdings.c.held).where(
    customer_holdings.c.customer_id == bindparam("customer_id"),
    customer_holdings.c.ticket_id == bindparam("ticket_id"))
GIVE_BACK_HELD = (update(customer_holdings)
                  .where(customer_holdings.c.customer_id == bindparam("key_customer_id"),
                         customer_holdings.c.ticket_id == bindparam("key_ticket_id"))
                  .values(held=customer_holdings.c.held - bindparam("quantity")))


@cache
def _add_if_within(dialect: str) -> Any:
    """Count `quantity` more held by the customer, unless the total would pass `limit`: an
    insert for their first, else an update whose WHERE the database checks under the row's
    lock (PostgreSQL re-reads the latest row for it; SQLite holds the write lock), so that two
    concurrent orders of one customer can never both fit under the limit with their sum."""
    insert_for = postgresql.insert if dialect == "postgresql" else sqlite.insert
    statement = insert_for(customer_holdings).values(
        customer_id=bindparam("customer_id"), ticket_id=bindparam("ticket_id"),
        held=bindparam("quantity"))
    return statement.on_conflict_do_update(
        index_elements=[customer_holdings.c.customer_id, customer_holdings.c.ticket_id],
        set_={"held": customer_holdings.c.held + statement.excluded.held},
        where=customer_holdings.c.held + statement.excluded.held <= bindparam("limit"),
    # SQLAlchemy keeps no INSERT's row count by default (psycopg then answers -1): asked for.
    ).execution_options(preserve_rowcount=True)


class DuplicateKey(Exception):
    """A row with the same primary key exists, possibly written by a concurrent transaction."""


class TicketRepository:
    """Tickets, and the stock behind them (implements the domain's `Stock` port)."""

    def __init__(self, connection: Connection):
        self.connection = connection

    def get(self, ticket_id: UUID) -> Ticket | None:
        """The ticket, or None."""
        row = self.connection.execute(select(tickets).where(tickets.c.id == ticket_id)).first()
        return _ticket(row) if row else None

    def list_all(self, ids: list[UUID] | None = None) -> list[Ticket]:
        """Every ticket (or those of `ids`), by name."""
        query = select(tickets).order_by(tickets.c.name, tickets.c.id)
        if ids is not None:
            query = query.where(tickets.c.id.in_(ids))
        return [_ticket(row) for row in self.connection.execute(query)]

    def tickets(self, ticket_ids: list[UUID]) -> dict[UUID, Ticket]:
        """Those of these tickets that exist, by id."""
        rows = self.connection.execute(TICKETS_OF, {"ids": ticket_ids})
        return {row.id: _ticket(row) for row in rows}

    def add(self, ticket: Ticket) -> None:
        """Insert the ticket; DuplicateKey if its id is taken."""
        statement = insert(tickets).values(
            id=ticket.id, name=ticket.name, available=ticket.available, price=ticket.price,
            max_per_order=ticket.limits.per_order, max_per_customer=ticket.limits.per_customer)
        _insert(self.connection, statement)

    def set_price(self, ticket_id: UUID, price: Decimal) -> bool:
        """Change a ticket's price; False if there is no such ticket."""
        changed = self.connection.execute(SET_PRICE, {"key_id": ticket_id, "price": price})
        return changed.rowcount == 1

    def set_limits(self, ticket_id: UUID, limits: Limits) -> bool:
        """Change a ticket's limits; False if there is no such ticket."""
        changed = self.connection.execute(SET_LIMITS, {
            "key_id": ticket_id, "per_order": limits.per_order,
            "per_customer": limits.per_customer})
        return changed.rowcount == 1

    def take(self, ticket_id: UUID, quantity: int) -> bool:
        """Decrement the stock if enough is left; False (and no change) if not.

        One conditional UPDATE: the database checks and decrements under the row's lock, so two
        concurrent takers can never both see the last ticket as available.
        """
        taken = self.connection.execute(TAKE_IF_ENOUGH,
                                        {"ticket_id": ticket_id, "quantity": quantity})
        return taken.rowcount == 1

    def give_back(self, ticket_id: UUID, quantity: int) -> None:
        """Return stock taken earlier."""
        self.connection.execute(GIVE_BACK, {"ticket_id": ticket_id, "quantity": quantity})

    def available(self, ticket_id: UUID) -> int:
        """How many of the ticket are left."""
        query = select(tickets.c.available).where(tickets.c.id == ticket_id)
        return self.connection.execute(query).scalar_one()


class HoldingRepository:
    """What each customer holds of each ticket (implements the domain's `Holdings` port)."""

    def __init__(self, connection: Connection):
        self.connection = connection

    def add(self, customer_id: UUID, ticket_id: UUID, quantity: int, limit: int) -> bool:
        """Count `quantity` more held by the customer if the total stays within `limit`; False
        (and no change) if not. One conditional upsert: see `_add_if_within`."""
        if quantity > limit:   # the insert of a first holding checks no limit
            return False
        counted = self.connection.execute(_add_if_within(self.connection.dialect.name), {
            "customer_id": customer_id, "ticket_id": ticket_id, "quantity": quantity,
            "limit": limit})
        return counted.rowcount == 1

    def give_back(self, customer_id: UUID, ticket_id: UUID, quantity: int) -> None:
        """The customer holds `quantity` fewer."""
        self.connection.execute(GIVE_BACK_HELD, {"key_customer_id": customer_id,
                                                 "key_ticket_id": ticket_id,
                                                 "quantity": quantity})

    def held(self, customer_id: UUID, ticket_id: UUID) -> int:
        """How many of the ticket the customer holds."""
        return self.connection.execute(HELD_BY, {"customer_id": customer_id,
                                                 "ticket_id": ticket_id}).scalar_one_or_none() or 0


class ReservationRepository:
    """Reservations with their lines; the order id is the key."""

    def __init__(self, connection: Connection):
        self.connection = connection

    def get(self, order_id: UUID, *, for_update: bool = False) -> Reservation | None:
        """The order's reservation, or None; `for_update` locks it until the transaction ends."""
        query = RESERVATION_OF_FOR_UPDATE if for_update else RESERVATION_OF
        rows = self.connection.execute(query, {"order_id": order_id}).all()
        if not rows:
            return None
        lines = tuple(Line(row.ticket_id, row.quantity) for row in rows
                      if row.ticket_id is not None)
        return Reservation(order_id, ReservationStatus(rows[0].status), lines,
                           rows[0].customer_id)

    def add(self, reservation: Reservation) -> None:
        """Insert the reservation and its lines (one statement on PostgreSQL); DuplicateKey if
        the order has one already."""
        try:
            insert_with_children(
                self.connection, NEW_RESERVATION,
                {"order_id": reservation.order_id, "status": reservation.status.value,
                 "customer_id": reservation.customer_id},
                reservation_lines,
                [{"order_id": reservation.order_id, "ticket_id": line.ticket_id,
                  "quantity": line.quantity} for line in reservation.lines])
        except IntegrityError as error:
            raise DuplicateKey(str(error.orig)) from error

    def confirm_if_held(self, order_id: UUID) -> bool:
        """Confirm the order's reservation if it is held; False (and no change) if not, or if
        there is none."""
        return self.connection.execute(CONFIRM_IF_HELD,
                                       {"key_order_id": order_id}).rowcount == 1

    def save_status(self, reservation: Reservation) -> None:
        """Write the reservation's status (its lines never change)."""
        self.connection.execute(SET_STATUS, {"key_order_id": reservation.order_id,
                                             "status": reservation.status.value})


def _ticket(row: Row[Any]) -> Ticket:
    return Ticket(row.id, row.name, row.available, row.price,
                  Limits(row.max_per_order, row.max_per_customer))


def _insert(connection: Connection, statement: Executable,
            parameters: dict[str, object] | None = None) -> None:
    try:
        connection.execute(statement, parameters)
    except IntegrityError as error:
        raise DuplicateKey(str(error.orig)) from error
