"""The flow's plans as Celery canvases: each step the task `saga.<name>` in its stage's queue,
a chain with the error callback, and a step beside it in a group.

Tasks are sent by name, so sending needs only the Celery app (its broker), not the tasks'
code; the worker registers them (orchestrator.entrypoints.saga_tasks). The start is sent with
the same error callback as every chain: a step that fails for good has one way out.
"""

from __future__ import annotations

from typing import Any

from celery import Celery, chain, group
from celery.canvas import Signature

from glastonbury.auth import order_messages_key
from glastonbury.contracts import tasks
from glastonbury.signing import signed
from orchestrator.domain.model import StepInput
from orchestrator.domain.steps import RESERVE_TICKETS, Plan, Stage, StepDeclaration

# The queues in the order a worker takes from them: a saga's later steps before its earlier
# ones, so that a burst of new orders never holds back the orders already paid for (each
# worker pops the first non-empty queue of this list). `celery` is Celery's default queue, where
# the order service's `saga.start` and beat's reconciler land.
FINISHING = "saga.finishing"   # finalise, compensate, check or void a payment
ONGOING = "saga.ongoing"       # reserve the tickets, request the payment
STARTING = "celery"            # new sagas
QUEUES = (FINISHING, ONGOING, STARTING)
QUEUE_OF_STAGE = {Stage.FINISHING: FINISHING, Stage.ONGOING: ONGOING}


def task_name(step: StepDeclaration) -> str:
    return tasks.step_task(step.name)


def step_of_task(name: str) -> str:
    """The step a task runs: `saga.<step>`, and the start's reserve."""
    return RESERVE_TICKETS.name if name == tasks.START else tasks.task_step(name)


class CeleryDispatch:
    """Sends plans as chains with the error callback, and lone steps, through `app`."""

    def __init__(self, app: Celery):
        self.app = app

    def signature(self, order_id: str, step: StepDeclaration) -> Signature:
        """The immutable signature of a step for one saga; Flower shows its order as its
        args."""
        return self.app.signature(task_name(step), args=(StepInput(order_id).as_message(),),
                                  immutable=True, queue=QUEUE_OF_STAGE[step.stage],
                                  argsrepr=f"order {order_id}")

    def canvas(self, plan: Plan) -> Signature:
        steps = chain(*(self.signature(plan.order_id, step) for step in plan.chain))
        steps = steps.on_error(self.app.signature(tasks.ON_STEP_FAILED))
        if plan.beside:
            return group(steps, *(self.signature(plan.order_id, step) for step in plan.beside))
        return steps

    def run(self, plan: Plan) -> None:
        self.canvas(plan).apply_async()

    def send(self, order_id: str, step: StepDeclaration) -> None:
        self.signature(order_id, step).apply_async()

    def start(self, order_message: dict[str, Any]) -> None:
        """Start a saga as the order service does, signed as it signs (the reconciler read the
        order from the order service, which owns it)."""
        message = signed(order_message, order_messages_key())
        self.app.signature(tasks.START, args=(message,),
                           argsrepr=f"order {order_message.get('orderId')}").apply_async(
            link_error=self.app.signature(tasks.ON_STEP_FAILED))
