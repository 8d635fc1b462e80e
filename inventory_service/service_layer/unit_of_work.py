"""One database transaction, and the repositories that work inside it."""

from __future__ import annotations

from typing import Self

from sqlalchemy import Connection, RootTransaction
from sqlalchemy.engine import Engine

from inventory_service.adapters.repository import (
    ReservationRepository,
    TicketRepository,
)


class SqlAlchemyUnitOfWork:
    """`with uow:` opens a transaction; it rolls back on leaving unless `commit()` was called."""

    tickets: TicketRepository
    reservations: ReservationRepository

    def __init__(self, engine: Engine):
        self.engine = engine

    def __enter__(self) -> Self:
        self._connection: Connection = self.engine.connect()
        self._transaction: RootTransaction = self._connection.begin()
        self.tickets = TicketRepository(self._connection)
        self.reservations = ReservationRepository(self._connection)
        return self

    def __exit__(self, *exc: object) -> None:
        try:
            if self._transaction.is_active:
                self._transaction.rollback()
        finally:
            self._connection.close()

    def commit(self) -> None:
        """Make the transaction's writes durable."""
        self._transaction.commit()
