"""Builds the orchestrator's parts and hands them in: the saga store (its units of work and its
engine), the services' clients and the dispatcher. Each entry point calls it once (a Celery
worker process after its fork: the parent's connections are not its own) and hands it what only
it has, the dispatcher built on its Celery app; a test passes the parts it swaps.
"""

from __future__ import annotations

from functools import partial

from sqlalchemy.engine import Engine

from glastonbury import settings
from orchestrator.adapters.repository import connect
from orchestrator.adapters.services import InventoryClient, OrderClient, PaymentClient
from orchestrator.domain.ports import Inventory, Orders, Payments
from orchestrator.service_layer.parts import Dispatch, Parts
from orchestrator.service_layer.unit_of_work import SqlAlchemyUnitOfWork


def bootstrap(dispatch: Dispatch, engine: Engine | None = None,
              inventory: Inventory | None = None, payments: Payments | None = None,
              orders: Orders | None = None) -> Parts:
    engine = engine or connect(settings.database_url("orchestrator"))
    return Parts(
        uow=partial(SqlAlchemyUnitOfWork, engine),
        engine=engine,
        inventory=inventory or InventoryClient(),
        payments=payments or PaymentClient(),
        orders=orders or OrderClient(),
        dispatch=dispatch,
    )
