"""Builds the orchestrator's parts and hands them in: the saga store, the services' clients and
the dispatcher. Each entry point calls it once (a Celery worker process after its fork: the
parent's connections are not its own); a test passes the parts it swaps.
"""

from __future__ import annotations

from glastonbury import settings
from orchestrator.adapters.services import InventoryClient, OrderClient, PaymentClient
from orchestrator.adapters.store import SagaStore
from orchestrator.service_layer.parts import Dispatch, Parts


def bootstrap(store: SagaStore | None = None, inventory: InventoryClient | None = None,
              payments: PaymentClient | None = None, orders: OrderClient | None = None,
              dispatch: Dispatch | None = None) -> Parts:
    if dispatch is None:
        from orchestrator.adapters.step_queue import CeleryDispatch
        from orchestrator.entrypoints.celery_app import app

        dispatch = CeleryDispatch(app)
    return Parts(
        store=store or SagaStore.connect(settings.database_url("orchestrator")),
        inventory=inventory or InventoryClient(),
        payments=payments or PaymentClient(),
        orders=orders or OrderClient(),
        dispatch=dispatch,
    )
