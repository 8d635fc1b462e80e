"""The inventory's unit of work: the repositories it offers, and its SQLAlchemy implementation."""

from __future__ import annotations

from typing import Protocol

from sqlalchemy import Connection

from glastonbury import unit_of_work
from inventory_service.adapters.repository import (HoldingRepository, ReservationRepository,
                                                    TicketRepository)


class UnitOfWork(unit_of_work.UnitOfWork, Protocol):
    """A transaction of the inventory (see `glastonbury.unit_of_work`)."""

    tickets: TicketRepository
    holdings: HoldingRepository
    reservations: ReservationRepository


class SqlAlchemyUnitOfWork(unit_of_work.SqlUnitOfWork):
    """A transaction on one connection of the engine."""

    tickets: TicketRepository
    holdings: HoldingRepository
    reservations: ReservationRepository

    def _open(self, connection: Connection) -> None:
        self.tickets = TicketRepository(connection)
        self.holdings = HoldingRepository(connection)
        self.reservations = ReservationRepository(connection)
