"""Repositories over one SQLAlchemy connection (the unit of work's transaction)."""

from __future__ import annotations

from decimal import Decimal
from uuid import UUID

from sqlalchemy import Connection, Executable, bindparam, insert, select, update
from sqlalchemy.exc import IntegrityError

from inventory_service.adapters.tables import reservation_lines, reservations, tickets
from inventory_service.domain.model import Line, Reservation, ReservationStatus, Ticket

# The statements of a reservation, built once with bind parameters: each is compiled once per
# process instead of rebuilt and re-keyed by SQLAlchemy on every request (a third of a
# reservation's CPU went there).
KNOWN_TICKETS = select(tickets.c.id).where(tickets.c.id.in_(bindparam("ids", expanding=True)))
PRICES_OF = select(tickets.c.id, tickets.c.price).where(
    tickets.c.id.in_(bindparam("ids", expanding=True)))
SET_PRICE = (update(tickets).where(tickets.c.id == bindparam("key_id"))
             .values(price=bindparam("price")))
TAKE_IF_ENOUGH = (update(tickets)
                  .where(tickets.c.id == bindparam("ticket_id"),
                         tickets.c.available >= bindparam("quantity"))
                  .values(available=tickets.c.available - bindparam("quantity")))
GIVE_BACK = (update(tickets).where(tickets.c.id == bindparam("ticket_id"))
             .values(available=tickets.c.available + bindparam("quantity")))
STATUS_OF = select(reservations.c.status).where(reservations.c.order_id == bindparam("order_id"))
STATUS_OF_FOR_UPDATE = STATUS_OF.with_for_update()
NEW_RESERVATION = insert(reservations).values(order_id=bindparam("order_id"),
                                              status=bindparam("status"))
NEW_LINE = insert(reservation_lines).values(order_id=bindparam("order_id"),
                                            ticket_id=bindparam("ticket_id"),
                                            quantity=bindparam("quantity"))
# (A parameter of an UPDATE's WHERE may not bear the name of a column it sets: `key_...`.)
SET_STATUS = (update(reservations).where(reservations.c.order_id == bindparam("key_order_id"))
              .values(status=bindparam("status")))
LINES_OF = (select(reservation_lines.c.ticket_id, reservation_lines.c.quantity)
            .where(reservation_lines.c.order_id == bindparam("order_id"))
            .order_by(reservation_lines.c.ticket_id))


class DuplicateKey(Exception):
    """A row with the same primary key exists, possibly written by a concurrent transaction."""


class TicketRepository:
    """Tickets, and the stock behind them (implements the domain's `Stock` port)."""

    def __init__(self, connection: Connection):
        self.connection = connection

    def get(self, ticket_id: UUID) -> Ticket | None:
        """The ticket, or None."""
        row = self.connection.execute(select(tickets).where(tickets.c.id == ticket_id)).first()
        return Ticket(row.id, row.name, row.available, row.price) if row else None

    def list_all(self, ids: list[UUID] | None = None) -> list[Ticket]:
        """Every ticket (or those of `ids`), by name."""
        query = select(tickets).order_by(tickets.c.name, tickets.c.id)
        if ids is not None:
            query = query.where(tickets.c.id.in_(ids))
        rows = self.connection.execute(query)
        return [Ticket(row.id, row.name, row.available, row.price) for row in rows]

    def add(self, ticket: Ticket) -> None:
        """Insert the ticket; DuplicateKey if its id is taken."""
        statement = insert(tickets).values(id=ticket.id, name=ticket.name,
                                           available=ticket.available, price=ticket.price)
        _insert(self.connection, statement)

    def prices(self, ticket_ids: list[UUID]) -> dict[UUID, Decimal | None]:
        """The catalogue price of each of these tickets that exists."""
        rows = self.connection.execute(PRICES_OF, {"ids": ticket_ids})
        return {row.id: row.price for row in rows}

    def set_price(self, ticket_id: UUID, price: Decimal) -> bool:
        """Change a ticket's price; False if there is no such ticket."""
        changed = self.connection.execute(SET_PRICE, {"key_id": ticket_id, "price": price})
        return changed.rowcount == 1

    def missing(self, ticket_ids: list[UUID]) -> list[UUID]:
        """Those of the ids that name no ticket, in the order given."""
        found: set[UUID] = set(self.connection.execute(KNOWN_TICKETS,
                                                       {"ids": ticket_ids}).scalars())
        return [ticket_id for ticket_id in ticket_ids if ticket_id not in found]

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


class ReservationRepository:
    """Reservations with their lines; the order id is the key."""

    def __init__(self, connection: Connection):
        self.connection = connection

    def get(self, order_id: UUID, *, for_update: bool = False) -> Reservation | None:
        """The order's reservation, or None; `for_update` locks it until the transaction ends."""
        query = STATUS_OF_FOR_UPDATE if for_update else STATUS_OF
        status = self.connection.execute(query, {"order_id": order_id}).scalar_one_or_none()
        if status is None:
            return None
        return Reservation(order_id, ReservationStatus(status), self._lines(order_id))

    def add(self, reservation: Reservation) -> None:
        """Insert the reservation and its lines; DuplicateKey if the order has one already."""
        _insert(self.connection, NEW_RESERVATION,
                {"order_id": reservation.order_id, "status": reservation.status.value})
        if reservation.lines:
            self.connection.execute(NEW_LINE, [
                {"order_id": reservation.order_id, "ticket_id": line.ticket_id,
                 "quantity": line.quantity} for line in reservation.lines])

    def save_status(self, reservation: Reservation) -> None:
        """Write the reservation's status (its lines never change)."""
        self.connection.execute(SET_STATUS, {"key_order_id": reservation.order_id,
                                             "status": reservation.status.value})

    def _lines(self, order_id: UUID) -> tuple[Line, ...]:
        rows = self.connection.execute(LINES_OF, {"order_id": order_id})
        return tuple(Line(row.ticket_id, row.quantity) for row in rows)


def _insert(connection: Connection, statement: Executable,
            parameters: dict[str, object] | None = None) -> None:
    try:
        connection.execute(statement, parameters)
    except IntegrityError as error:
        raise DuplicateKey(str(error.orig)) from error
