"""How one saga step runs: guarded by the saga's state, recorded, retried, idempotent.

A step is a small Celery task taking one versioned message, `{"version": 1, "orderId": ...}`.
It runs only while the saga is in a state the step belongs to; anywhere else it does nothing, so
a duplicate, late or re-driven delivery changes nothing. Technical failures are retried by the
step's `RetryPolicy`; when the last attempt fails the chain's error callback takes over.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from celery import Task
from celery.canvas import Signature

from orchestrator.adapters.services import ServiceUnavailable
from orchestrator.celery_app import app
from orchestrator import config
from orchestrator.config import RetryPolicy
from orchestrator.domain.model import MESSAGE_VERSION, InvalidMessage, Saga, SagaState
from orchestrator.wiring import store

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class StepInput:
    """The one argument of every step: which saga. Versioned so fields can be added."""

    order_id: str
    version: int = MESSAGE_VERSION

    def as_message(self) -> dict[str, Any]:
        return {"version": self.version, "orderId": self.order_id}

    @classmethod
    def from_message(cls, message: Any) -> StepInput:
        if not isinstance(message, dict) or message.get("version") != MESSAGE_VERSION:
            raise InvalidMessage(f"unreadable step message {message!r}")
        return cls(str(message["orderId"]))


@dataclass(frozen=True)
class Stop:
    """A step's verdict that ends its chain here; `then` is what the orchestrator runs instead."""

    outcome: str
    then: Signature | None = None


Guard = Callable[[Saga], bool]


def in_state(*states: SagaState) -> Guard:
    return lambda saga: saga.state in states


def saga_step(name: str, runs_when: Guard) -> Callable[[Callable[[Saga], str | Stop]], Task]:
    """Register `body(saga)` as the Celery task `saga.<name>` with the guard, record and retries."""

    def register(body: Callable[[Saga], str | Stop]) -> Task:
        # Retries are bounded by the step's RetryPolicy, not by Celery's default of three.
        @app.task(name=f"saga.{name}", bind=True, max_retries=None)
        def step(self: Task, message: dict[str, Any]) -> str:
            order_id = StepInput.from_message(message).order_id
            saga = store().get(order_id)
            if saga is None or not runs_when(saga):
                end_chain(self)
                return f"skipped: saga is {saga.state if saga else 'unknown'}"
            if _attempts(saga, name) >= config.step_attempt_limit():
                return _park(self, order_id, name)
            store().begin_step(order_id, name, self.request.id)
            try:
                verdict = body(saga)
            except ServiceUnavailable as error:
                raise _retry_or_give_up(self, order_id, name, error) from None
            return _finish(self, order_id, name, verdict)

        step.__doc__ = body.__doc__
        return step

    return register


def _attempts(saga: Saga, name: str) -> int:
    return next((step.attempts for step in saga.steps if step.name == name), 0)


def _park(task: Task, order_id: str, name: str) -> str:
    # A task that kills its worker comes back on every redelivery and Redis keeps no count;
    # the store does, and a step tried this often waits for a person instead.
    log.error("step %s of %s parked after %d attempts", name, order_id, config.step_attempt_limit())
    store().update(order_id, parked=True)
    end_chain(task)
    return "parked: too many attempts"


def _retry_or_give_up(task: Task, order_id: str, name: str, error: Exception) -> Exception:
    store().note_step_error(order_id, name, str(error))
    policy = RetryPolicy.for_step(name)
    attempt = task.request.retries + 1
    if attempt >= policy.max_attempts:
        log.warning("%s for %s failed after %d attempts: %s", name, order_id, attempt, error)
        return ServiceUnavailable(f"{error} (gave up after {attempt} attempts)")
    return task.retry(exc=error, countdown=policy.delay(task.request.retries),
                      throw=False)


def _finish(task: Task, order_id: str, name: str, verdict: str | Stop) -> str:
    outcome = verdict.outcome if isinstance(verdict, Stop) else verdict
    store().end_step(order_id, name, outcome)
    if isinstance(verdict, Stop):
        end_chain(task)
        if verdict.then is not None:
            verdict.then.apply_async()
    return outcome


def end_chain(task: Task) -> None:
    # The rest of a chain travels with the running task's request; dropping it here is how a
    # step says "the orchestrator decided otherwise" without failing the task in monitoring.
    task.request.chain = None


def signature(task: Task, order_id: str) -> Signature:
    """The immutable signature of a step for one saga."""
    return task.si(StepInput(order_id).as_message())
