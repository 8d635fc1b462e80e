"""The saga's Celery tasks, made at the edge from the flow's plain functions.

Each declared step's body (orchestrator.service_layer.saga) becomes the task `saga.<name>` in
its stage's queue; beside them the start, the chains' error callback and the reconciler. A task
turns its message into a call of the flow with this process's parts, and the flow's answer
(`Ran`) into what Celery does next: go on with the chain, drop the rest of it, or retry later.
"""

from __future__ import annotations

import logging
import os
from functools import cache
from typing import Any

from celery import Task

from glastonbury.auth import order_messages_key
from glastonbury.signing import is_signed
from orchestrator.adapters.step_queue import ERROR_CALLBACK, QUEUE_OF_STAGE, START_TASK, task_name
from orchestrator.bootstrap import bootstrap
from orchestrator.domain.model import InvalidMessage, StepInput
from orchestrator.entrypoints.celery_app import app
from orchestrator.service_layer import reconciler
from orchestrator.service_layer import saga as flow
from orchestrator.service_layer.parts import Parts
from orchestrator.service_layer.step_runner import STEPS, Attempt, Ran, Step

log = logging.getLogger(__name__)
_parts: dict[int, Parts] = {}


def parts() -> Parts:
    """This process's parts, built on first use: a forked worker process builds its own (its
    parent's connections are not its own)."""
    pid = os.getpid()
    if pid not in _parts:
        _parts.clear()
        _parts[pid] = bootstrap()
    return _parts[pid]


def serve(with_parts: Parts | None) -> None:
    """The tasks of this process run with these parts (a test's); None: built afresh."""
    _parts.clear()
    if with_parts is not None:
        _parts[os.getpid()] = with_parts


def attempt_of(task: Task) -> Attempt:
    request = task.request
    return Attempt(request.id, request.retries,
                   bool((request.delivery_info or {}).get("redelivered")))


def carried_out(task: Task, ran: Ran) -> str:
    if ran.retry_in is not None:
        # Retries are bounded by the step's RetryPolicy, not by Celery's max_retries.
        raise task.retry(exc=ran.error, countdown=ran.retry_in, throw=False)
    if not ran.chain_goes_on:
        # The rest of a chain travels with the running task's request; dropping it here is
        # how a step says "the orchestrator decided otherwise" without failing the task in
        # monitoring.
        task.request.chain = None
    return ran.outcome


@cache
def signing_key() -> str:
    """The order messages' key, read once a process (the worker checks it as it starts)."""
    return order_messages_key()


@app.task(name=START_TASK, bind=True, max_retries=None)
def start(self: Task, order_message: dict[str, Any]) -> str:
    """The order service placed an order: record its saga and reserve its tickets.

    Only from a message the order service signed: anyone who can write to the broker could
    put an order there, with lines and a total of their own. What is refused is counted as a
    dead letter; a real order whose message was lost stays PENDING and the reconciler starts
    it from the order service's own record."""
    if not is_signed(order_message, signing_key()):
        order = order_message.get("orderId") if isinstance(order_message, dict) else None
        log.error("saga.start refused: the order message of %r is not signed by the order "
                  "service", order)
        parts().store.count_dead_letters({"unsigned_order": 1})
        return "refused: not signed by the order service"
    return carried_out(self, flow.start(parts(), order_message, attempt_of(self)))


def step_task(step: Step) -> Task:
    """The step as the Celery task `saga.<name>`, waiting in its stage's queue (see
    `orchestrator.adapters.step_queue.QUEUES`: the later the stage, the sooner a worker
    takes it, so a burst of new orders never starves paid ones)."""

    @app.task(name=task_name(step.declared), bind=True, max_retries=None,
              queue=QUEUE_OF_STAGE[step.declared.stage])
    def task(self: Task, message: dict[str, Any]) -> str:
        order_id = StepInput.from_message(message).order_id
        return carried_out(self, flow.run(parts(), step.name, order_id, attempt_of(self)))

    task.__doc__ = step.body.__doc__
    return task


STEP_TASKS = {name: step_task(step) for name, step in STEPS.items()}


@app.task(name=ERROR_CALLBACK)
def on_step_failed(request: Any, exc: BaseException, traceback: Any) -> None:
    """Error callback of every chain. Runs inside the failing worker: record, enqueue, return."""
    step = str(request.task).removeprefix("saga.")
    try:
        order_id = StepInput.from_message(request.args[0]).order_id
    except (InvalidMessage, IndexError, KeyError, TypeError):
        log.error("step %s failed with an unreadable message: %r", step, request.args)
        return
    flow.step_failed(parts(), step, order_id, exc, request.id)


# Unseen by Flower (no task events): a pass every few seconds would bury the business steps in
# its task list. Each pass is recorded in the saga store instead, where the dashboard shows it.
@app.task(name="saga.reconcile", send_events=False)
def reconcile() -> dict[str, int]:
    """One pass over the store; answers how many sagas each kind of repair touched."""
    return reconciler.reconcile(parts())
