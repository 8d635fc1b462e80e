"""The saga store as tests set it up and look into it: the repository's own writes through a
unit of work, and, for a test's starting point only, a saga put straight into a state (no rule
of the aggregate is asked: a test may want any state)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import update
from sqlalchemy.engine import Connection, Engine

from glastonbury.clock import utc_now
from orchestrator.adapters import saga_list
from orchestrator.adapters.repository import SagaRepository, connect
from orchestrator.adapters.tables import sagas
from orchestrator.domain.model import OrderPlaced, SagaState
from orchestrator.domain.saga import Saga, StepRun
from orchestrator.service_layer.unit_of_work import SqlAlchemyUnitOfWork


class Store:
    def __init__(self, engine: Engine):
        self.engine = engine

    @classmethod
    def at(cls, url: str) -> Store:
        return cls(connect(url))

    @contextmanager
    def repository(self) -> Iterator[SagaRepository]:
        """The repository in one committed transaction."""
        with SqlAlchemyUnitOfWork(self.engine) as uow:
            yield uow.sagas
            uow.commit()

    @contextmanager
    def transaction(self) -> Iterator[Connection]:
        with self.engine.begin() as connection:
            yield connection

    def add(self, order: OrderPlaced) -> bool:
        with SqlAlchemyUnitOfWork(self.engine) as uow:
            added = uow.sagas.add(order) is not None
            if added:
                uow.commit()
        return added

    def current(self, order_id: str) -> Saga | None:
        with SqlAlchemyUnitOfWork(self.engine, read_only=True) as uow:
            return uow.sagas.get(order_id)

    def get(self, order_id: str) -> Saga | None:
        """The saga with its timeline."""
        return saga_list.timeline(self.engine, order_id)

    def put(self, order_id: str, state: SagaState, **fields: Any) -> None:
        """Put the saga in `state` with these fields, as a test's starting point."""
        with self.transaction() as tx:
            tx.execute(update(sagas).where(sagas.c.order_id == order_id)
                       .values(state=state, updated_at=utc_now(), **fields))

    def record_step(self, order_id: str, run: StepRun) -> None:
        with self.repository() as repository:
            repository.record_step(order_id, run)

    def dispose(self) -> None:
        self.engine.dispose()
