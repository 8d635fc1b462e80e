"""The orchestrator's unit of work: the repository it offers (sagas and their steps' records),
and its SQLAlchemy implementation."""

from __future__ import annotations

from typing import Protocol

from sqlalchemy import Connection

from glastonbury import unit_of_work
from orchestrator.adapters.repository import SagaRepository


class UnitOfWork(unit_of_work.UnitOfWork, Protocol):
    """A transaction of the saga store (see `glastonbury.unit_of_work`): a saga's move and
    the record of the step that made it commit together or not at all."""

    sagas: SagaRepository


class UnitsOfWork(Protocol):
    """Makes a new unit of work; `read_only`: one that only reads (on SQLite it takes no write
    lock, so reading never queues behind a writer); `one_write`: one whose writes are a single
    statement of the repository's (`SagaRepository.save` on PostgreSQL), which then needs no
    transaction around it."""

    def __call__(self, read_only: bool = False, one_write: bool = False) -> UnitOfWork: ...


class SqlAlchemyUnitOfWork(unit_of_work.SqlUnitOfWork):
    """A transaction on one connection of the saga store's engine."""

    sagas: SagaRepository

    def _open(self, connection: Connection) -> None:
        self.sagas = SagaRepository(connection)
