"""How one saga step runs: guarded by the saga's state, recorded, retried, idempotent.

A step is a small Celery task taking one versioned message, `{"version": 1, "orderId": ...}`.
It runs only while the saga is in a state the step belongs to; anywhere else it does nothing, so
a duplicate, late or re-driven delivery changes nothing. Its body calls the services and returns
a `Verdict`: what happened, and where the saga goes. The runner then stores the move and the
step's record in one transaction (one read and one write of the store a step). Technical
failures are retried by the step's `RetryPolicy`; when the last attempt fails the chain's error
callback takes over.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from celery import Task
from celery.canvas import Signature
from sqlalchemy.exc import OperationalError

from orchestrator import config
from orchestrator.adapters.services import ConflictingOutcome, ServiceUnavailable
from orchestrator.adapters.store import Move, StepRun, now
from orchestrator.celery_app import QUEUE_OF_STAGE, app
from orchestrator.config import RetryPolicy
from orchestrator.domain.model import MESSAGE_VERSION, InvalidMessage, Saga, SagaState
from orchestrator.domain.steps import StepDeclaration
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
class Verdict:
    """What a step's body found, and what the saga does about it.

    `outcome` is recorded with the step. `move` is the saga's transition, stored with that
    record. `turns` says the saga leaves its planned path (compensation): the rest of the chain
    is dropped and the decision table's canvas for the new state runs instead. `opens` names a
    step that begins as this one ends (the wait for the payment).
    """

    outcome: str
    move: Move | None = None
    turns: bool = False
    changes: dict[str, Any] = field(default_factory=dict)
    opens: str | None = None


def advance(outcome: str, allowed: tuple[SagaState, ...], to: SagaState, /,
            opens: str | None = None, **changes: object) -> Verdict:
    """The step succeeded: the saga moves on along its chain."""
    return Verdict(outcome, Move(allowed, to, changes), opens=opens)


def turn(outcome: str, allowed: tuple[SagaState, ...], to: SagaState, /,
         **changes: object) -> Verdict:
    """The saga leaves its path (compensation): what follows is decided for its new state."""
    return Verdict(outcome, Move(allowed, to, changes), turns=True)


def done(outcome: str, /, **changes: object) -> Verdict:
    """The step did its work; the saga's state stays."""
    return Verdict(outcome, changes=changes)


Guard = Callable[[Saga], bool]
Body = Callable[[Saga], Verdict]


def in_state(*states: SagaState) -> Guard:
    return lambda saga: saga.state in states


@dataclass(frozen=True)
class Step:
    """A business step: its name, the states it runs in, and its body."""

    name: str
    runs_when: Guard
    body: Body


def saga_step(declared: StepDeclaration, runs_when: Guard | None = None
              ) -> Callable[[Body], Task]:
    """Register `body(saga)` as the Celery task `saga.<name>` of the declared step, with its
    guard (by default: the saga is in one of the states the step runs in), record and retries.

    It waits in its stage's queue (see `orchestrator.celery_app.QUEUES`): the later the stage,
    the sooner a worker takes it, so a burst of new orders never starves paid ones.
    """
    name = declared.name

    def register(body: Body) -> Task:
        step = STEPS[name] = Step(name, runs_when or in_state(*declared.runs_in), body)

        # Retries are bounded by the step's RetryPolicy, not by Celery's default of three.
        @app.task(name=f"saga.{name}", bind=True, max_retries=None,
                  queue=QUEUE_OF_STAGE[declared.stage])
        def task(self: Task, message: dict[str, Any]) -> str:
            return run_step(self, step, StepInput.from_message(message).order_id)

        task.__doc__ = body.__doc__
        return task

    return register


STEPS: dict[str, Step] = {}


def run_step(task: Task, step: Step, order_id: str, drive_on: bool = False,
             saga: Saga | None = None) -> str:
    """Run `step` for the saga inside `task`: guarded, counted, its verdict stored in one write.

    `drive_on` is for a step run outside its chain (the start task reserves at once): when the
    saga moved on, what follows is sent from here. `saga` spares the read of a saga just made.
    """
    with retried_if_the_store_fails(task, step.name, order_id):
        return _run_step(task, step, order_id, drive_on, saga)


@contextmanager
def retried_if_the_store_fails(task: Task, name: str, order_id: str) -> Iterator[None]:
    """A blip of the saga store (locked, restarting, unreachable) is a technical failure like
    a service's: the step is retried by its policy, never compensated at once."""
    try:
        yield
    except OperationalError as error:
        policy = RetryPolicy.for_step(name)
        if task.request.retries + 1 >= policy.max_attempts:
            raise  # given up: the error callback, or the reconciler once the store is back
        delay = policy.delay(task.request.retries)
        log.warning("%s order_id=%s: the saga store failed, retrying in %.1f s: %s", name,
                    order_id, delay, error)
        raise task.retry(exc=error, countdown=delay, throw=False) from None


def _run_step(task: Task, step: Step, order_id: str, drive_on: bool,
              saga: Saga | None) -> str:
    saga = saga or store().current(order_id)
    if saga is None or not step.runs_when(saga):
        end_chain(task)
        return f"skipped: saga is {saga.state if saga else 'unknown'}"
    began, counted = now(), _redelivered(task)
    if counted and store().count_attempt(order_id, step.name, task.request.id) \
            > config.step_attempt_limit():
        # Its worker died with it, again and again (Redis keeps no count; the store does):
        # a person looks at it instead.
        return park(task, order_id, step.name, "too many attempts")
    try:
        verdict = step.body(saga)
    except ServiceUnavailable as error:
        return _retry_or_give_up(task, order_id, step.name, error)
    except ConflictingOutcome as error:
        return park(task, order_id, step.name, str(error))
    run = StepRun(step.name, verdict.outcome, began, task.request.id, counted)
    return _finish(task, saga, run, verdict, drive_on)


def _redelivered(task: Task) -> bool:
    return bool((task.request.delivery_info or {}).get("redelivered"))


def park(task: Task, order_id: str, name: str, why: str) -> str:
    """Leave the saga where it is, flagged for a person, with the reason in the step's record."""
    log.error("%s order_id=%s: parked: %s", name, order_id, why)
    store().finish_step(order_id, StepRun(name, "parked", now(), task.request.id, counted=True,
                                          error=why), parked=True)
    end_chain(task)
    return f"parked: {why}"


def _retry_or_give_up(task: Task, order_id: str, name: str, error: Exception) -> str:
    """Retry by the step's policy; give up to the error callback after its last attempt; park
    a step tried `SAGA_STEP_ATTEMPT_LIMIT` times in all (across re-drives and redeliveries)."""
    attempts = store().note_step_error(order_id, name, str(error), task.request.id,
                                       counted=_redelivered(task))
    if attempts >= config.step_attempt_limit():
        return park(task, order_id, name, f"tried {attempts} times; last: {error}")
    policy = RetryPolicy.for_step(name)
    attempt = task.request.retries + 1
    if attempt >= policy.max_attempts:
        log.warning("%s order_id=%s: failed after %d attempts: %s", name, order_id, attempt,
                    error)
        raise ServiceUnavailable(f"{error} (gave up after {attempt} attempts)") from None
    delay = policy.delay(task.request.retries)
    log.info("%s order_id=%s: attempt %d failed, retrying in %.1f s: %s", name, order_id,
             attempt, delay, error)
    raise task.retry(exc=error, countdown=delay, throw=False)


def _finish(task: Task, saga: Saga, run: StepRun, verdict: Verdict, drive_on: bool) -> str:
    moved = store().finish_step(saga.order_id, run, verdict.move, opens=verdict.opens,
                                **verdict.changes)
    log.info("%s order_id=%s: %s%s (%.1f ms)", run.name, saga.order_id, verdict.outcome,
             "" if moved else " (the saga moved on meanwhile)",
             (now() - run.started_at).total_seconds() * 1000)
    if verdict.move is None or (moved and not verdict.turns and not drive_on):
        return verdict.outcome  # the chain goes on
    end_chain(task)
    if moved:  # run what the decision table says for the saga's new state
        from orchestrator.saga import next_canvas  # the flow imports the steps, not back

        saga.state = verdict.move.to
        for name, value in verdict.move.changes.items():
            setattr(saga, name, value)
        canvas = next_canvas(saga)
        if canvas is not None:
            canvas.apply_async()
    return verdict.outcome if moved else f"{verdict.outcome} (the saga moved on meanwhile)"


def end_chain(task: Task) -> None:
    # The rest of a chain travels with the running task's request; dropping it here is how a
    # step says "the orchestrator decided otherwise" without failing the task in monitoring.
    task.request.chain = None


def signature(task: Task, order_id: str) -> Signature:
    """The immutable signature of a step for one saga; Flower shows its order as its args."""
    return task.si(StepInput(order_id).as_message()).set(argsrepr=f"order {order_id}")
