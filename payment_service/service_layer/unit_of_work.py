"""The payment service's unit of work: the repository it offers (payments and their outbox), and
its SQLAlchemy implementation."""

from __future__ import annotations

from typing import Protocol

from sqlalchemy import Connection

from glastonbury import unit_of_work
from payment_service.adapters.repository import PaymentRepository


class UnitOfWork(unit_of_work.UnitOfWork, Protocol):
    """A transaction of the payment service (see `glastonbury.unit_of_work`): a decision and
    its outbox message commit together or not at all."""

    payments: PaymentRepository


class SqlAlchemyUnitOfWork(unit_of_work.SqlUnitOfWork):
    """A transaction on one connection of the engine."""

    payments: PaymentRepository

    def _open(self, connection: Connection) -> None:
        self.payments = PaymentRepository(connection)
