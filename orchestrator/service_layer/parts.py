"""What the use cases work with, built by `orchestrator.bootstrap` and handed in: the saga store
(units of work over it, and its engine for the read models), the three services' clients, and
the dispatcher that hands steps to the workers.

The use cases never import Celery: they say which steps run next (a `Plan`) and the dispatcher
of the edge (`orchestrator.adapters.step_queue`) turns that into Celery canvases; a test hands
in one that runs them in the same thread, or only notes them.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol

from sqlalchemy.engine import Engine

from glastonbury import settings
from orchestrator.domain.ports import Inventory, Orders, Payments
from orchestrator.domain.steps import Plan, StepDeclaration
from orchestrator.service_layer.unit_of_work import UnitsOfWork


class Dispatch(Protocol):
    def run(self, plan: Plan) -> None:
        """Have the workers run the plan: its chain with the error callback, what is beside."""

    def send(self, order_id: str, step: StepDeclaration) -> None:
        """Have a worker run one step on its own (a check, a void, a request sent again); if
        it fails for good, the reconciler comes back to the saga."""

    def start(self, order_message: dict[str, Any]) -> None:
        """Start an order's saga, as the order service does when it places one."""


@dataclass
class Parts:
    uow: UnitsOfWork   # the saga store's transactions (sagas, their steps' records)
    engine: Engine     # the same store, for the read models (the dashboard, lists, counters)
    inventory: Inventory
    payments: Payments
    orders: Orders
    dispatch: Dispatch

    @property
    def payment_wait_s(self) -> float:
        """Seconds a saga waits for its payment's result before it asks."""
        return settings.PAYMENT_RESULT_TIMEOUT.number()
