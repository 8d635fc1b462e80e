"""What the flow works with, built by `orchestrator.bootstrap` and handed in: the saga store,
the three services' clients, and the dispatcher that hands steps to the workers.

The flow never imports Celery: it says which steps run next (a `Plan`) and the dispatcher of the
edge (`orchestrator.adapters.step_queue`) turns that into Celery canvases; a test hands in
one that runs them in the same thread, or only notes them.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol

from orchestrator.adapters.services import InventoryClient, OrderClient, PaymentClient
from orchestrator.adapters.store import SagaStore
from orchestrator.domain.steps import Plan, StepDeclaration


class Dispatch(Protocol):
    def run(self, plan: Plan) -> None:
        """Have the workers run the plan."""

    def send(self, order_id: str, step: StepDeclaration) -> None:
        """Have a worker run one step on its own (a check, a void, a request sent again); if
        it fails for good, the reconciler comes back to the saga."""

    def start(self, order_message: dict[str, Any]) -> None:
        """Start an order's saga, as the order service does when it places one."""


@dataclass
class Parts:
    store: SagaStore
    inventory: InventoryClient
    payments: PaymentClient
    orders: OrderClient
    dispatch: Dispatch
