"""One transaction of the order service, and the repository that works inside it."""

from __future__ import annotations

from typing import Protocol, Self

from sqlalchemy import Connection
from sqlalchemy.engine import Engine

from glastonbury.db import READ_ONLY
from order_service.adapters.repository import OrderRepository, SqlOrderRepository


class UnitOfWork(Protocol):
    """A transaction: nothing is kept unless `commit` is called before the block ends."""

    orders: OrderRepository

    def __enter__(self) -> Self: ...
    def __exit__(self, *exc: object) -> None: ...
    def commit(self) -> None: ...
    def rollback(self) -> None: ...


class SqlUnitOfWork:
    """A unit of work on one connection of the engine."""

    orders: OrderRepository

    def __init__(self, engine: Engine, read_only: bool = False):
        self.engine = engine
        self.read_only = read_only
        self._connection: Connection | None = None

    def __enter__(self) -> Self:
        self._connection = self.engine.connect()
        if self.read_only:  # on SQLite: no write lock, so polling clients never hold up a write
            self._connection = self._connection.execution_options(**{READ_ONLY: True})
        self.orders = SqlOrderRepository(self._connection)
        return self

    def __exit__(self, *exc: object) -> None:
        assert self._connection is not None
        self._connection.rollback()  # a no-op after commit; undoes an unfinished transaction
        self._connection.close()
        self._connection = None

    def commit(self) -> None:
        assert self._connection is not None
        self._connection.commit()

    def rollback(self) -> None:
        assert self._connection is not None
        self._connection.rollback()
