"""The ticket-order saga, top to bottom: each step, what undoes it, what comes next.

    start: reserve_tickets ──► request_payment ──► (waits: a row, no worker, no thread)
                   │ out of stock                          │ payment result from Kafka, or
                   │                                       │ check_payment after the deadline
                   ▼                       approved ◄──────┴──────► declined / no result
            compensate(REJECTED)              │                          │
                                        finalise_order ──► COMPLETED   compensate(PAYMENT_FAILED)

    compensate(outcome): release_reservation ──► fail_order ──► REJECTED | PAYMENT_FAILED
                         (and void_payment beside it, when a payment may have been taken)

Three canvases carry it forward: reserve and pay (the start task records the saga and
reserves at once; a re-driven saga reserves with `reserve_tickets`), then the wait, then
finalise; compensation is a fourth. Services only do their step and answer; every
decision is made here. Steps are Celery tasks (`orchestrator.steps`), guarded by the saga's
stored state so each is safe to run twice; each returns a verdict that the runner stores with
the step's record in one transaction.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from datetime import datetime, timedelta
from typing import Any

from celery import Task, chain, group
from celery.canvas import Signature

from glastonbury import tracing
from orchestrator.adapters.services import ContractBroken, ServiceUnavailable
from orchestrator.adapters.store import Move, StepRun, now
from orchestrator.celery_app import app
from orchestrator.config import payment_result_timeout
from orchestrator.domain.model import (GAVE_UP, PAYMENT_MAY_EXIST, InvalidMessage, OrderPlaced,
                                       PaymentDecided, Saga, SagaState, customer_reason)
from orchestrator.domain.steps import (AWAIT_PAYMENT, CHECK_PAYMENT, FAIL_ORDER, FINALISE_ORDER,
                                       GIVE_UP_AS, RELEASE_RESERVATION, REQUEST_PAYMENT,
                                       RESERVE_TICKETS, VOID_PAYMENT)
from orchestrator.steps import (STEPS, StepInput, Verdict, advance, done,
                                retried_if_the_store_fails, run_step, saga_step, signature, turn)
from orchestrator.wiring import inventory, orders, payments, store

log = logging.getLogger(__name__)
S = SagaState
BEFORE_PAYMENT_DECIDED = (S.STARTED, *PAYMENT_MAY_EXIST)


@app.task(name="saga.start", bind=True, max_retries=None)
def start(self: Task, order_message: dict[str, Any]) -> str:
    """The order service placed an order: record its saga and take step 1, reserving the
    tickets, in the same task (the saga's first hop). Once per order: a repeat finds the saga
    recorded and its step done or guarded."""
    order = OrderPlaced.from_message(order_message)
    with retried_if_the_store_fails(self, RESERVE_TICKETS.name, order.order_id):
        created = store().create_if_absent(order)
    new = Saga(order.order_id, S.STARTED, order.customer_id, order.total, order.lines)
    try:
        return run_step(self, STEPS[RESERVE_TICKETS.name], order.order_id, drive_on=True,
                        saga=new if created else None)
    except (ServiceUnavailable, ContractBroken) as error:
        # Given up: this task is no chain with an error callback, so it gives up here.
        step_failed(RESERVE_TICKETS.name, order.order_id, error, self.request.id)
        raise


def drive(order_id: str) -> None:
    """Run what comes next for the saga in its stored state (resume, or re-drive)."""
    saga = store().current(order_id)
    if saga is not None:
        apply(next_canvas(saga))


def next_canvas(saga: Saga) -> Signature | None:
    """The orchestrator's one decision table: state -> the steps that follow."""
    steps = {
        S.STARTED: [reserve_tickets, request_payment],
        S.RESERVED: [request_payment],
        S.APPROVED: [finalise_order],
        S.COMPENSATING: [release_reservation, fail_order],
    }.get(saga.state)
    if steps is None:
        return None  # waiting for the payment (a row in the store), or finished
    canvas = chain(*(signature(step, saga.order_id) for step in steps))
    canvas = canvas.on_error(on_step_failed.s())
    if saga.state is S.COMPENSATING and saga.payment_to_void:
        return group(canvas, signature(void_payment, saga.order_id))
    return canvas


def apply(canvas: Signature | None) -> None:
    if canvas is not None:
        canvas.apply_async()


# -- Step 1: reserve the tickets ------------------------------------------------------------

@saga_step(RESERVE_TICKETS)
def reserve_tickets(saga: Saga) -> Verdict:
    """Hold every ticket of the order, or none; out of stock ends the saga as REJECTED."""
    refusal = inventory().reserve(saga.order_id, saga.lines)
    if refusal is None:
        return advance("reserved", (S.STARTED,), S.RESERVED)
    return compensate(saga, S.REJECTED, f"Tickets not available: {refusal.message}",
                      outcome=refusal.code)


# -- Step 2: request the payment (asynchronous: the result comes later, from Kafka) ----------

@saga_step(REQUEST_PAYMENT)
def request_payment(saga: Saga) -> Verdict:
    """Ask for the payment; the saga then waits as a row until the result or its deadline.

    The result may be stored before this step is (the bridge accepts it in RESERVED too), and
    the deadline counts from the last request: retries while the service is down are no wait.
    """
    status = payments().request(saga.order_id, saga.customer_id, saga.total)
    return advance(f"payment {status.lower()}", (S.RESERVED, S.AWAITING_PAYMENT),
                   S.AWAITING_PAYMENT, opens=AWAIT_PAYMENT.name, payment_requested=True,
                   payment_deadline=payment_deadline())


def payment_deadline() -> datetime:
    return now() + timedelta(seconds=payment_result_timeout())


# -- Step 3: the payment result --------------------------------------------------------------

def record_payment_results(results: Iterable[PaymentDecided]) -> list[tuple[PaymentDecided, str]]:
    """The payment service decided (Kafka bridge, or check_payment): store it, then act on it.

    Every result of a batch and its message id are stored in one transaction, so a message
    delivered twice, late or out of order moves the saga at most once; what follows each one
    is sent once they are stored. A result for another amount than the saga's total changes
    nothing: it comes back with the reason, for the caller to park. What follows a result goes
    on in the trace it came in, if any.
    """
    refused, follow_ups = [], []
    with store().transaction() as tx:
        for result in results:
            follow_up = _decide_on_payment(result, tx)
            if isinstance(follow_up, str):
                refused.append((result, follow_up))
            else:
                follow_ups.append((result.trace, follow_up))
    for trace, follow_up in follow_ups:
        tracing.within(trace, follow_up)
    return refused


def _decide_on_payment(result: PaymentDecided, tx: Any) -> Callable[[], None] | str:
    """What the result means for its saga, stored; what to send once stored, or why not."""
    saga = store().current(result.order_id, tx)
    if saga is None:
        log.warning("payment result for unknown order %s ignored", result.order_id)
        return _nothing
    if result.amount is not None and result.amount != saga.total:
        return f"the payment is for {result.amount}, the order's total is {saga.total}"
    if not store().record_event_once(result.event_id, result.order_id, tx):
        return _nothing
    if saga.state in PAYMENT_MAY_EXIST:
        # The wait began when the request was stored (or now, if the result came first).
        wait = StepRun(AWAIT_PAYMENT.name, "approved" if result.approved else "declined", now(),
                       counted=True)
        if result.approved:
            move = Move(PAYMENT_MAY_EXIST, S.APPROVED)
            store().finish_step(saga.order_id, wait, move, tx)
            saga.state = S.APPROVED
            return lambda: apply(next_canvas(saga))
        verdict = compensate(saga, S.PAYMENT_FAILED,
                             f"Payment declined: {result.reason or 'no reason given'}",
                             void=False)
        if store().finish_step(saga.order_id, wait, verdict.move, tx):
            _take(saga, verdict)
            return lambda: apply(next_canvas(saga))
        return _nothing
    if result.approved and saga.state in GAVE_UP:
        # Approved after the saga gave up: the money goes back (see void_payment).
        store().update(saga.order_id, tx, payment_to_void=True)
        return lambda: signature(void_payment, saga.order_id).apply_async()
    return _nothing


def _nothing() -> None:
    return None


def _take(saga: Saga, verdict: Verdict) -> None:
    assert verdict.move is not None
    saga.state = verdict.move.to
    for name, value in verdict.move.changes.items():
        setattr(saga, name, value)


@saga_step(CHECK_PAYMENT)
def check_payment(saga: Saga) -> Verdict:
    """No result by the deadline: ask the payment service; cancel what is still undecided."""
    payment = payments().status(saga.order_id)
    if payment is None or payment.status not in ("APPROVED", "DECLINED"):
        payment = payments().cancel(saga.order_id)  # cancelled now: it can never be approved
    if payment.status in ("APPROVED", "DECLINED"):
        refused = record_payment_results([PaymentDecided(
            f"check:{saga.order_id}", saga.order_id, payment.status == "APPROVED",
            payment.reason, payment.payment_id, payment.amount)])
        if refused:  # the payment service's own record disagrees with the order
            return done(f"payment {payment.status.lower()}, but {refused[0][1]}", parked=True)
        return done(f"payment {payment.status.lower()}")
    reason = f"No payment result within {payment_result_timeout():g} s; the payment was cancelled."
    return compensate(saga, S.PAYMENT_FAILED, reason, outcome="payment cancelled", void=False)


# -- Step 4: finalise (after approval the saga only moves forward) ---------------------------

@saga_step(FINALISE_ORDER)
def finalise_order(saga: Saga) -> Verdict:
    """The tickets held in step 1 are sold, and the order becomes COMPLETED; so does the saga."""
    inventory().confirm(saga.order_id)
    orders().record_outcome(saga.order_id, "COMPLETED", None)
    return advance("completed", (S.APPROVED,), S.COMPLETED)


# -- Compensation ------------------------------------------------------------------------------

def compensate(saga: Saga, ends_as: SagaState, reason: str, outcome: str = "compensating",
               void: bool | None = None) -> Verdict:
    """Turn the saga back (before the payment was approved): release, void, fail the order.

    `void` says whether a payment may have been taken and must be cancelled or refunded; by
    default, whenever one may have been asked for (a request whose answer was lost included).
    """
    if void is None:
        void = saga.payment_requested or saga.state in PAYMENT_MAY_EXIST
    return turn(outcome, BEFORE_PAYMENT_DECIDED, S.COMPENSATING, outcome=ends_as,
                reason=customer_reason(reason), payment_to_void=void)


def start_compensation(saga: Saga, ends_as: SagaState, reason: str) -> bool:
    """Compensate a saga from outside a step (an operator, a step that gave up); False if it
    moved on meanwhile."""
    verdict = compensate(saga, ends_as, reason)
    assert verdict.move is not None
    if not store().transition(saga.order_id, verdict.move.allowed, verdict.move.to,
                              **verdict.move.changes):
        return False
    if saga.state is S.AWAITING_PAYMENT:
        store().finish_step(saga.order_id, StepRun(AWAIT_PAYMENT.name, "gave up", now(),
                                                   counted=True))
    _take(saga, verdict)
    apply(next_canvas(saga))
    return True


@saga_step(RELEASE_RESERVATION)
def release_reservation(saga: Saga) -> Verdict:
    """Undo step 1: the held tickets go back on sale (a no-op if none are held)."""
    inventory().release(saga.order_id)
    return done("released")


@saga_step(FAIL_ORDER)
def fail_order(saga: Saga) -> Verdict:
    """The order ends REJECTED or PAYMENT_FAILED, with the reason the customer sees."""
    ends_as = saga.outcome or S.PAYMENT_FAILED
    orders().record_outcome(saga.order_id, ends_as.value, saga.reason)
    return advance(ends_as.value.lower(), (S.COMPENSATING,), ends_as)


@saga_step(VOID_PAYMENT, runs_when=lambda saga: saga.payment_to_void)
def void_payment(saga: Saga) -> Verdict:
    """Undo step 2: cancel a payment still undecided, refund one that was approved."""
    payment = payments().cancel(saga.order_id)
    status = payment.status
    if status == "APPROVED":
        refunded = payments().refund(saga.order_id)
        status = refunded.status if refunded else "REFUNDED"
    return done(f"payment {status.lower()}", payment_to_void=False)

# -- When a step fails for good (each step's declaration says how the saga then ends) -----------

@app.task(name="saga.on_step_failed")
def on_step_failed(request: Any, exc: BaseException, traceback: Any) -> None:
    """Error callback of every chain. Runs inside the failing worker: record, enqueue, return."""
    step = str(request.task).removeprefix("saga.")
    try:
        order_id = StepInput.from_message(request.args[0]).order_id
    except (InvalidMessage, IndexError, KeyError, TypeError):
        log.error("step %s failed with an unreadable message: %r", step, request.args)
        return
    step_failed(step, order_id, exc, request.id)


def step_failed(step: str, order_id: str, exc: BaseException, task_id: str | None) -> None:
    """A step failed for good. Before the payment is decided the saga compensates; after it
    (finalising, compensating) it must finish, so the reconciler drives the step again later."""
    error = f"{type(exc).__name__}: {exc}"
    store().finish_step(order_id, StepRun(step, "failed", now(), task_id, counted=True,
                                          error=error))
    saga = store().current(order_id)
    if saga is None or step not in GIVE_UP_AS:
        return
    start_compensation(saga, GIVE_UP_AS[step], f"The {step.replace('_', ' ')} step failed: {exc}")
