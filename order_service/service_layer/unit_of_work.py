"""The order service's unit of work: the repository it offers, and its SQLAlchemy implementation."""

from __future__ import annotations

from typing import Protocol

from sqlalchemy import Connection

from glastonbury import unit_of_work
from order_service.adapters.repository import OrderRepository, SqlOrderRepository


class UnitOfWork(unit_of_work.UnitOfWork, Protocol):
    """A transaction of the order service (see `glastonbury.unit_of_work`)."""

    orders: OrderRepository


class SqlAlchemyUnitOfWork(unit_of_work.SqlUnitOfWork):
    """A transaction on one connection of the engine; `read_only` takes no write lock."""

    orders: OrderRepository

    def _open(self, connection: Connection) -> None:
        self.orders = SqlOrderRepository(connection)
