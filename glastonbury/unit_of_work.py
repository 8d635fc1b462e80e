"""What every service's unit of work is: one transaction on one connection, committed only when
asked. Each service's `service_layer/unit_of_work.py` names the repositories its unit offers."""

from __future__ import annotations

from typing import Protocol, Self

from sqlalchemy import Connection
from sqlalchemy.engine import Engine

from glastonbury.db import read_only


class UnitOfWork(Protocol):
    """A transaction: nothing is kept unless `commit` is called before the block ends."""

    def __enter__(self) -> Self: ...
    def __exit__(self, *exc: object) -> None: ...
    def commit(self) -> None: ...
    def rollback(self) -> None: ...


class SqlUnitOfWork:
    """The base of each service's `SqlAlchemyUnitOfWork`: `with uow:` takes a connection of the
    engine, whose transaction begins with its first statement; leaving the block rolls back
    what was not committed and gives the connection back. The same object may be entered again
    once it has left (one block at a time). A subclass builds its repositories in `_open`."""

    def __init__(self, engine: Engine, read_only: bool = False, one_write: bool = False):
        self.engine = engine
        self.read_only = read_only
        self.one_write = one_write
        self._connection: Connection | None = None

    def __enter__(self) -> Self:
        connection = self.engine.connect()
        if self.read_only:  # SQLite: no write lock; PostgreSQL: no BEGIN and ROLLBACK
            connection = read_only(connection)
        elif self.one_write and connection.dialect.name == "postgresql":
            # The unit writes with one statement, which PostgreSQL runs as a transaction of
            # its own: no BEGIN and COMMIT around it, two round trips fewer.
            connection = connection.execution_options(isolation_level="AUTOCOMMIT")
        self._connection = connection
        self._open(connection)
        return self

    def _open(self, connection: Connection) -> None:
        """Build the repositories that work on this connection."""
        raise NotImplementedError

    def __exit__(self, *exc: object) -> None:
        assert self._connection is not None
        try:
            self._connection.rollback()  # a no-op after commit; undoes an unfinished transaction
        finally:
            self._connection.close()
            self._connection = None

    def commit(self) -> None:
        """Make the transaction's writes durable (a later statement begins another)."""
        assert self._connection is not None
        self._connection.commit()

    def rollback(self) -> None:
        """Undo the transaction's writes (a later statement begins another)."""
        assert self._connection is not None
        self._connection.rollback()
