"""How one saga step runs: guarded by the saga's state, recorded, retried, idempotent.

A step takes one versioned message, `{"version": 1, "orderId": ...}`. It runs only while the
saga is in a state the step belongs to; anywhere else it does nothing, so a duplicate, late or
re-driven delivery changes nothing. Its body calls the services and returns a `Verdict`: what
happened, and where the saga goes. The runner then stores the move and the step's record in one
transaction (one read and one write of the store a step). A failure is met as the step's
declared `RetryPolicy` says. What the queue must do about it (retry later, drop the rest of the
chain) comes back in a `Ran`: the runner knows nothing of Celery.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.exc import OperationalError

from orchestrator import config
from orchestrator.adapters.store import Move, StepRun, now
from orchestrator.domain.exceptions import ServiceUnavailable
from orchestrator.domain.model import Saga, SagaState
from orchestrator.domain.steps import StepDeclaration
from orchestrator.service_layer.parts import Parts

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Verdict:
    """What a step's body found, and what the saga does about it.

    `outcome` is recorded with the step. `move` is the saga's transition, stored with that
    record. `turns` says the saga leaves its planned path (compensation): the rest of the chain
    is dropped and the decision table's plan for the new state runs instead. `opens` names a
    step that begins as this one ends (the wait for the payment). `detail` is what the service
    answered, for operators: kept in the step's record, never in the customer's reason.
    """

    outcome: str
    move: Move | None = None
    turns: bool = False
    changes: dict[str, Any] = field(default_factory=dict)
    opens: str | None = None
    detail: str | None = None


def advance(outcome: str, allowed: tuple[SagaState, ...], to: SagaState, /,
            opens: str | None = None, **changes: object) -> Verdict:
    """The step succeeded: the saga moves on along its chain."""
    return Verdict(outcome, Move(allowed, to, changes), opens=opens)


def turn(outcome: str, allowed: tuple[SagaState, ...], to: SagaState, /,
         detail: str | None = None, **changes: object) -> Verdict:
    """The saga leaves its planned path (compensation; nothing to pay): what follows is decided
    for its new state."""
    return Verdict(outcome, Move(allowed, to, changes), turns=True, detail=detail)


def done(outcome: str, /, **changes: object) -> Verdict:
    """The step did its work; the saga's state stays."""
    return Verdict(outcome, changes=changes)


@dataclass(frozen=True)
class Attempt:
    """Which delivery of a step's message this is, as the queue tells it."""

    task_id: str | None = None
    retries: int = 0             # retries so far: 0 on the first attempt
    redelivered: bool = False    # a worker died with it before (Redis keeps no count)


@dataclass(frozen=True)
class Ran:
    """How a step's run ended, for the queue: its outcome; whether the rest of its chain runs
    (a step whose saga went elsewhere ends it); or when to try the step again."""

    outcome: str
    chain_goes_on: bool = False
    retry_in: float | None = None
    error: Exception | None = None


Guard = Callable[[Saga], bool]
Body = Callable[[Saga, Parts], Verdict]
FollowUp = Callable[[Parts, Saga], None]


@dataclass(frozen=True)
class Step:
    """A business step: its declaration, when it does its work, and its body."""

    declared: StepDeclaration
    runs_when: Guard
    body: Body

    @property
    def name(self) -> str:
        return self.declared.name


STEPS: dict[str, Step] = {}


def saga_step(declared: StepDeclaration, runs_when: Guard | None = None
              ) -> Callable[[Body], Body]:
    """Give the declared step its body, `body(saga, parts) -> Verdict`, guarded (by default:
    the saga is in one of the states the step runs in). The edge registers every step as the
    Celery task `saga.<name>` (orchestrator.entrypoints.saga_tasks)."""
    assert declared.retry is not None, f"{declared.name} declares no retry policy"

    def register(body: Body) -> Body:
        guard = runs_when or (lambda saga: saga.state in declared.runs_in)
        STEPS[declared.name] = Step(declared, guard, body)
        return body

    return register


def run_step(parts: Parts, step: Step, order_id: str, attempt: Attempt, then: FollowUp,
             drive_on: bool = False, saga: Saga | None = None) -> Ran:
    """Run `step` for the saga: guarded, counted, its verdict stored in one write; `then`
    sends what follows a saga that left its path.

    `drive_on` is for a step run outside its chain (the start task reserves at once): when the
    saga moved on, `then` sends what follows. `saga` spares the read of a saga just made.
    """
    return retried_if_the_store_fails(
        step.declared, attempt, lambda: _run_step(parts, step, order_id, attempt, then,
                                                  drive_on, saga))


def retried_if_the_store_fails(declared: StepDeclaration, attempt: Attempt,
                               work: Callable[[], Ran]) -> Ran:
    """A blip of the saga store (locked, restarting, unreachable) is a technical failure like
    a service's: the step is retried by its policy, never compensated at once."""
    try:
        return work()
    except OperationalError as error:
        policy = config.retry_policy(declared)
        if attempt.retries + 1 >= policy.max_attempts:
            raise  # given up: the error callback, or the reconciler once the store is back
        delay = policy.delay(attempt.retries)
        log.warning("%s: the saga store failed, retrying in %.1f s: %s", declared.name, delay,
                    error)
        return Ran("the saga store failed", retry_in=delay, error=error)


def _run_step(parts: Parts, step: Step, order_id: str, attempt: Attempt, then: FollowUp,
              drive_on: bool, saga: Saga | None) -> Ran:
    saga = saga or parts.store.current(order_id)
    if saga is None or not step.runs_when(saga):
        return Ran(f"skipped: saga is {saga.state if saga else 'unknown'}")
    began = now()
    if attempt.redelivered and parts.store.count_attempt(order_id, step.name, attempt.task_id) \
            > config.step_attempt_limit():
        # Its worker died with it, again and again (Redis keeps no count; the store does):
        # a person looks at it instead.
        return park(parts, order_id, step.name, "too many attempts", attempt.task_id)
    policy = step.declared.retry   # which failures it retries (the settings change only numbers)
    assert policy is not None
    try:
        verdict = step.body(saga, parts)
    except policy.parked_on as error:
        return park(parts, order_id, step.name, str(error), attempt.task_id)
    except policy.never_retried:
        raise  # fails for good at once: the chain's error callback takes over
    except policy.retried_on as error:
        return _retry_or_give_up(parts, order_id, step.declared, error, attempt)
    run = StepRun(step.name, verdict.outcome, began, attempt.task_id, attempt.redelivered,
                  error=verdict.detail)
    return _finish(parts, saga, run, verdict, then, drive_on)


def park(parts: Parts, order_id: str, name: str, why: str, task_id: str | None) -> Ran:
    """Leave the saga where it is, flagged for a person, with the reason in the step's record."""
    log.error("%s: parked: %s", name, why)
    parts.store.finish_step(order_id, StepRun(name, "parked", now(), task_id, counted=True,
                                              error=why), parked=True)
    return Ran(f"parked: {why}")


def _retry_or_give_up(parts: Parts, order_id: str, declared: StepDeclaration, error: Exception,
                      attempt: Attempt) -> Ran:
    """Retry by the step's policy; give up to the error callback after its last attempt; park
    a step tried `SAGA_STEP_ATTEMPT_LIMIT` times in all (across re-drives and redeliveries)."""
    name = declared.name
    attempts = parts.store.note_step_error(order_id, name, str(error), attempt.task_id,
                                           counted=attempt.redelivered)
    if attempts >= config.step_attempt_limit():
        return park(parts, order_id, name, f"tried {attempts} times; last: {error}",
                    attempt.task_id)
    policy = config.retry_policy(declared)
    made = attempt.retries + 1
    if made >= policy.max_attempts:
        log.warning("%s: failed after %d attempts: %s", name, made, error)
        raise ServiceUnavailable(f"{error} (gave up after {made} attempts)") from None
    delay = policy.delay(attempt.retries)
    log.info("%s: attempt %d failed, retrying in %.1f s: %s", name, made, delay, error)
    return Ran(f"attempt {made} failed", retry_in=delay, error=error)


def take(saga: Saga, verdict: Verdict) -> None:
    """The saga in hand as the verdict's stored move left it."""
    assert verdict.move is not None
    saga.state = verdict.move.to
    for name, value in verdict.move.changes.items():
        setattr(saga, name, value)


def _finish(parts: Parts, saga: Saga, run: StepRun, verdict: Verdict, then: FollowUp,
            drive_on: bool) -> Ran:
    moved = parts.store.finish_step(saga.order_id, run, verdict.move, opens=verdict.opens,
                                    **verdict.changes)
    log.info("%s: %s%s (%.1f ms)", run.name, verdict.outcome,
             "" if moved else " (the saga moved on meanwhile)",
             (now() - run.started_at).total_seconds() * 1000)
    if verdict.move is None or (moved and not verdict.turns and not drive_on):
        return Ran(verdict.outcome, chain_goes_on=True)
    if not moved:
        return Ran(f"{verdict.outcome} (the saga moved on meanwhile)")
    take(saga, verdict)
    then(parts, saga)   # what the decision table says for the saga's new state
    return Ran(verdict.outcome)
