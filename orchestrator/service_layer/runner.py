"""How a saga goes forward, one way for every step (the flow's table is
`orchestrator.domain.flow`): read the saga, run the step's body, let the saga take the table's
row for its outcome, store the move and the step's record in one transaction (one read and one
write of the store a step), then send what runs in the saga's new state.

What happens to the chain a step ran in follows one rule: the saga moved, the rest of the chain
is dropped (the new state's steps are sent instead); it did not move, the chain goes on. A step
runs only while a row of it applies to the saga as stored, so a duplicate, late or re-driven
delivery changes nothing. A failure is met as the step's declared `RetryPolicy` says; one that
is final ends the task, and the chain's error callback (`give_up`) takes over: the start task
is sent with it too. What the queue must do comes back in a `Ran`: the runner knows no Celery.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from functools import partial
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.exc import OperationalError

from glastonbury import settings, tracing
from glastonbury.clock import utc_now as now
from orchestrator import config
from orchestrator.domain.exceptions import ConflictingOutcome, ServiceUnavailable
from orchestrator.domain.flow import SAGA, payment_result
from orchestrator.domain.model import OrderPlaced, PaymentDecided
from orchestrator.domain.saga import Saga, StepRun
from orchestrator.domain.steps import (AWAIT_PAYMENT, BY_NAME, GAVE_UP_OUTCOME, RESERVE_TICKETS,
                                       VOID_PAYMENT, StepDeclaration)
from orchestrator.service_layer.parts import Parts
from orchestrator.service_layer.unit_of_work import UnitOfWork

log = logging.getLogger(__name__)

# How often a payment's result is taken again from the state stored meanwhile, when a step's
# move won the compare-and-set (one such move can come between the read and the write).
MOVES_RACED = 3


@dataclass(frozen=True)
class Attempt:
    """Which delivery of a step's message this is, as the queue tells it."""

    task_id: str | None = None
    retries: int = 0             # retries so far: 0 on the first attempt
    redelivered: bool = False    # a worker died with it before (Redis keeps no count)


@dataclass(frozen=True)
class Ran:
    """How a step's run ended, for the queue: its outcome; whether the rest of its chain runs
    (the saga did not move); or when to try the step again."""

    outcome: str
    chain_goes_on: bool = False
    retry_in: float | None = None
    error: Exception | None = None


def start(parts: Parts, order_message: dict[str, Any], attempt: Attempt) -> Ran:
    """The order service placed an order: record its saga and reserve its tickets at once (the
    saga's first hop). Once per order: a repeat finds the saga recorded and its step guarded."""
    order = OrderPlaced.from_message(order_message)

    def record_and_reserve() -> Ran:
        with parts.uow(one_write=True) as uow:   # one INSERT
            new = uow.sagas.add(order)
            if new is not None:
                uow.commit()
        return _run(parts, RESERVE_TICKETS, order.order_id, attempt, new)

    return _retried_if_the_store_fails(RESERVE_TICKETS, attempt, record_and_reserve)


def run(parts: Parts, name: str, order_id: str, attempt: Attempt) -> Ran:
    """Run the step of that name for the saga (what each step's task does)."""
    step = BY_NAME[name]
    return _retried_if_the_store_fails(step, attempt,
                                       lambda: _run(parts, step, order_id, attempt))


def follow(parts: Parts, saga: Saga) -> None:
    """Send what runs while the saga stands in its state (after a move, or driven again)."""
    plan = SAGA.plan(saga.order_id, saga.state, saga.payment_to_void)
    if plan is not None:
        parts.dispatch.run(plan)


def _run(parts: Parts, step: StepDeclaration, order_id: str, attempt: Attempt,
         saga: Saga | None = None) -> Ran:
    saga = saga or read(parts, order_id)
    if saga is None or not any(saga.may_take(row) for row in SAGA.rows_of(step)):
        return Ran(f"skipped: saga is {saga.state if saga else 'unknown'}")
    began = now()
    if attempt.redelivered and _counted_attempts(parts, order_id, step, attempt) \
            > settings.SAGA_STEP_ATTEMPT_LIMIT.integer():
        # Its worker died with it, again and again (Redis keeps no count; the store does):
        # a person looks at it instead.
        return park(parts, saga, step.name, "too many attempts", attempt.task_id)
    policy = step.retry   # which failures it retries (the settings change only numbers)
    assert policy is not None
    try:
        outcome = SAGA.bodies[step.name](saga, parts)
    except policy.parked_on as error:
        return park(parts, saga, step.name, str(error), attempt.task_id)
    except policy.never_retried:
        raise  # fails for good at once: the error callback takes over
    except policy.retried_on as error:
        return _retry_or_give_up(parts, saga, step, error, attempt)
    row = SAGA.row(step, saga.state, outcome.name)
    if row is None:
        raise LookupError(f"{step.name}: the flow has no row for {outcome.name!r} in "
                          f"{saga.state}")
    saga.take(row, outcome, _payment_deadline(parts))
    stored = _store(parts, saga, StepRun(step.name, outcome.recorded, began, attempt.task_id,
                                         attempt.redelivered, error=outcome.detail))
    log.info("%s: %s%s (%.1f ms)", step.name, outcome.recorded,
             "" if stored else " (the saga moved on meanwhile)",
             (now() - began).total_seconds() * 1000)
    return _onward(parts, saga, stored, outcome.recorded)


def _onward(parts: Parts, saga: Saga, stored: bool, said: str) -> Ran:
    if not saga.move.moves:
        return Ran(said, chain_goes_on=True)
    if not stored:
        return Ran(f"{said} (the saga moved on meanwhile)")
    follow(parts, saga)
    return Ran(said)


def read(parts: Parts, order_id: str) -> Saga | None:
    """The saga as stored (the step's one read; it takes no write lock)."""
    with parts.uow(read_only=True) as uow:
        return uow.sagas.get(order_id)


def _store(parts: Parts, saga: Saga, run: StepRun | None = None) -> bool:
    """The saga's move and the step's record, in one transaction; False if the saga had moved
    on meanwhile (the record is kept all the same)."""
    with parts.uow(one_write=True) as uow:
        stored = uow.sagas.save(saga, run)
        uow.commit()
    return stored


def _payment_deadline(parts: Parts) -> datetime:
    # Counted from the last request: retries while the service is down are no wait.
    return now() + timedelta(seconds=parts.payment_wait_s)


# -- when a step fails ---------------------------------------------------------------------------

def _retried_if_the_store_fails(step: StepDeclaration, attempt: Attempt,
                                work: Callable[[], Ran]) -> Ran:
    """A blip of the saga store (locked, restarting, unreachable) is a technical failure like
    a service's: the step is retried by its policy, never compensated at once."""
    try:
        return work()
    except OperationalError as error:
        policy = config.retry_policy(step)
        if attempt.retries + 1 >= policy.max_attempts:
            raise  # given up: the error callback, or the reconciler once the store is back
        delay = policy.delay(attempt.retries)
        log.warning("%s: the saga store failed, retrying in %.1f s: %s", step.name, delay,
                    error)
        return Ran("the saga store failed", retry_in=delay, error=error)


def _counted_attempts(parts: Parts, order_id: str, step: StepDeclaration,
                      attempt: Attempt) -> int:
    with parts.uow() as uow:
        attempts = uow.sagas.count_attempt(order_id, step.name, attempt.task_id)
        uow.commit()
    return attempts


def _retry_or_give_up(parts: Parts, saga: Saga, step: StepDeclaration, error: Exception,
                      attempt: Attempt) -> Ran:
    """Retry by the step's policy; give up to the error callback after its last attempt; park
    a step tried `SAGA_STEP_ATTEMPT_LIMIT` times in all (across re-drives and redeliveries)."""
    with parts.uow() as uow:
        attempts = uow.sagas.note_step_error(saga.order_id, step.name, str(error),
                                             attempt.task_id, counted=attempt.redelivered)
        uow.commit()
    if attempts >= settings.SAGA_STEP_ATTEMPT_LIMIT.integer():
        return park(parts, saga, step.name, f"tried {attempts} times; last: {error}",
                    attempt.task_id)
    policy = config.retry_policy(step)
    made = attempt.retries + 1
    if made >= policy.max_attempts:
        log.warning("%s: failed after %d attempts: %s", step.name, made, error)
        raise ServiceUnavailable(f"{error} (gave up after {made} attempts)") from None
    delay = policy.delay(attempt.retries)
    log.info("%s: attempt %d failed, retrying in %.1f s: %s", step.name, made, delay, error)
    return Ran(f"attempt {made} failed", retry_in=delay, error=error)


def park(parts: Parts, saga: Saga, name: str, why: str, task_id: str | None) -> Ran:
    """Leave the saga where it is, flagged for a person, with the reason in the step's record."""
    log.error("%s: parked: %s", name, why)
    saga.park()
    _store(parts, saga, StepRun(name, "parked", now(), task_id, counted=True, error=why))
    return Ran(f"parked: {why}")


def give_up(parts: Parts, name: str, order_id: str, exc: BaseException,
            task_id: str | None) -> None:
    """A step failed for good (the error callback of every chain and of the start). Before the
    payment is decided the saga turns back, telling the customer what the step's declaration
    says (the failure itself stays in the step's record); after it (finalising, compensating)
    it must finish, so the reconciler drives the step again."""
    saga = read(parts, order_id)
    if saga is None:
        log.error("%s failed for good for order %s, which has no saga: %s", name, order_id, exc)
        return
    declared = BY_NAME.get(name)
    if declared is not None and declared.gives_up_saying is not None:
        saga.turn_back(declared.gives_up_saying)
    run = StepRun(name, GAVE_UP_OUTCOME, now(), task_id, counted=True,
                  error=f"{type(exc).__name__}: {exc}")
    if _store(parts, saga, run) and saga.move.moves:
        follow(parts, saga)


def compensate(parts: Parts, saga: Saga, reason: str) -> bool:
    """Turn the saga back from outside a step (an operator), unparked; False if it may not
    (any more: it moved on meanwhile)."""
    saga.unpark()
    if not saga.turn_back(reason) or not _store(parts, saga):
        return False
    follow(parts, saga)
    return True


# -- the payment's result, from the Kafka bridge -------------------------------------------------

def record_payment_results(parts: Parts, results: Iterable[PaymentDecided]
                           ) -> list[tuple[PaymentDecided, str]]:
    """The payment service decided: store what each result means, then act on it.

    Every result of a batch and its message id are stored in one transaction, so a message
    delivered twice, late or out of order moves the saga at most once; what follows each one
    is sent once they are stored, in the trace it came in. A result for another amount than
    the saga's total changes nothing: it comes back with the reason, for the caller to park.
    """
    refused: list[tuple[PaymentDecided, str]] = []
    then: list[tuple[str | None, Callable[[], None]]] = []
    with parts.uow() as uow:
        for result in results:
            try:
                follow_up = _take_payment_result(parts, uow, result)
            except ConflictingOutcome as contradiction:
                refused.append((result, str(contradiction)))
                continue
            if follow_up is not None:
                then.append((result.trace, follow_up))
        uow.commit()
    for trace, follow_up in then:
        tracing.within(trace, follow_up)
    return refused


def _take_payment_result(parts: Parts, uow: UnitOfWork, result: PaymentDecided
                         ) -> Callable[[], None] | None:
    """What the result means for its saga, stored in `uow`; what to send once committed."""
    saga = uow.sagas.get(result.order_id)
    if saga is None:
        log.warning("payment result for unknown order %s ignored", result.order_id)
        return None
    outcome = payment_result(saga, result.approved, result.reason, result.amount)
    if not uow.sagas.record_event_once(result.event_id, result.order_id):
        return None
    for _ in range(MOVES_RACED):
        row = SAGA.row(AWAIT_PAYMENT, saga.state, outcome.name)
        if row is None or not saga.may_take(row):
            break
        saga.take(row, outcome, _payment_deadline(parts))
        if uow.sagas.save(saga):
            return partial(follow, parts, saga)
        # Another move was stored after our read: the result came before request_payment
        # stored its own (the payment service answers, the relay publishes at once). On
        # PostgreSQL our compare-and-set waited for that commit and then found the saga moved:
        # take the result from the state stored now, else it is lost until the deadline.
        saga = uow.sagas.get(result.order_id) or saga
    if result.approved and saga.approved_after_giving_up():
        # Approved after the saga gave up: the money goes back (see void_payment).
        uow.sagas.save(saga)
        return lambda: parts.dispatch.send(saga.order_id, VOID_PAYMENT)
    return None
