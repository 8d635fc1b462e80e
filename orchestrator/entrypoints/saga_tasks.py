"""The saga's Celery tasks, made at the edge from the flow's plain functions.

Each step with a body (orchestrator.domain.flow) becomes the task `saga.<name>` in its stage's
queue; beside them the start, the error callback of the chains and the start, and the
reconciler. A task turns its message into a call of the runner with this process's parts, and
the runner's answer (`Ran`) into what Celery does next: go on with the chain, drop the rest of
it, or retry later.
"""

from __future__ import annotations

import logging
import os
from functools import cache
from typing import Any

from celery import Task

from glastonbury.auth import order_messages_key
from glastonbury.contracts import tasks
from glastonbury.signing import is_signed
from orchestrator.adapters import counters
from orchestrator.adapters.step_queue import (QUEUE_OF_STAGE, CeleryDispatch, step_of_task,
                                              task_name)
from orchestrator.bootstrap import bootstrap
from orchestrator.domain.flow import SAGA
from orchestrator.domain.model import InvalidMessage, StepInput
from orchestrator.domain.steps import BY_NAME, StepDeclaration
from orchestrator.entrypoints.celery_app import app
from orchestrator.service_layer import reconciler, runner
from orchestrator.service_layer.parts import Parts
from orchestrator.service_layer.runner import Attempt, Ran

log = logging.getLogger(__name__)
_parts: dict[int, Parts] = {}


def parts() -> Parts:
    """This process's parts, built on first use: a forked worker process builds its own (its
    parent's connections are not its own)."""
    pid = os.getpid()
    if pid not in _parts:
        _parts.clear()
        _parts[pid] = bootstrap(dispatch=CeleryDispatch(app))
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


@app.task(name=tasks.START, bind=True, max_retries=None)
def start(self: Task, order_message: dict[str, Any]) -> str:
    """The order service placed an order: record its saga and reserve its tickets.

    Only from a message the order service signed: anyone who can write to the broker could
    put an order there, with lines and a total of their own. What is refused is counted as a
    dead letter; a real order whose message was lost stays PENDING and the reconciler starts
    it from the order service's own record."""
    if not is_signed(order_message, signing_key()):
        order = order_message.get("orderId") if isinstance(order_message, dict) else None
        log.error("%s refused: the order message of %r is not signed by the order service",
                  tasks.START, order)
        counters.count_dead_letters(parts().engine, {"unsigned_order": 1})
        return "refused: not signed by the order service"
    return carried_out(self, runner.start(parts(), order_message, attempt_of(self)))


def step_task(step: StepDeclaration) -> Task:
    """The step as the Celery task `saga.<name>`, waiting in its stage's queue (see
    `orchestrator.adapters.step_queue.QUEUES`: the later the stage, the sooner a worker
    takes it, so a burst of new orders never starves paid ones)."""

    @app.task(name=task_name(step), bind=True, max_retries=None,
              queue=QUEUE_OF_STAGE[step.stage])
    def task(self: Task, message: dict[str, Any]) -> str:
        order_id = StepInput.from_message(message).order_id
        return carried_out(self, runner.run(parts(), step.name, order_id, attempt_of(self)))

    task.__doc__ = SAGA.bodies[step.name].__doc__
    return task


STEP_TASKS = {name: step_task(BY_NAME[name]) for name in SAGA.bodies}


@app.task(name=tasks.ON_STEP_FAILED)
def on_step_failed(request: Any, exc: BaseException, traceback: Any) -> None:
    """Error callback of every chain and of the start. Runs inside the failing worker: record,
    enqueue, return."""
    step = step_of_task(str(request.task))
    try:
        order_id = StepInput.from_message(request.args[0]).order_id
    except (InvalidMessage, IndexError, KeyError, TypeError):
        log.error("step %s failed with an unreadable message: %r", step, request.args)
        return
    runner.give_up(parts(), step, order_id, exc, request.id)


# Unseen by Flower (no task events): a pass every few seconds would bury the business steps in
# its task list. Each pass is recorded in the saga store instead, where the dashboard shows it.
@app.task(name=tasks.RECONCILE, send_events=False)
def reconcile() -> dict[str, int]:
    """One pass over the store; answers how many sagas each kind of repair touched."""
    return reconciler.reconcile(parts())
