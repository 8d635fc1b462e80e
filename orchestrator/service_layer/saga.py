"""The ticket-order saga, top to bottom: each step, what undoes it, what comes next.

    start: reserve_tickets ──► request_payment ──► (waits: a row, no worker, no thread)
                   │ out of stock                          │ payment result from Kafka, or
                   │                                       │ check_payment after the deadline
                   ▼                       approved ◄──────┴──────► declined / no result
            compensate(REJECTED)              │                          │
                                        finalise_order ──► COMPLETED   compensate(PAYMENT_FAILED)

    compensate(outcome): release_reservation ──► fail_order ──► REJECTED | PAYMENT_FAILED
                         (and void_payment beside it, when a payment may have been taken)

    nothing to pay (free tickets): reserve_tickets ──► finalise_order ──► COMPLETED

Three plans carry it forward: reserve and pay (the start records the saga and reserves at once;
a re-driven saga reserves with `reserve_tickets`), then the wait, then finalise; compensation is
a fourth. Services only do their step and answer; every decision is made here. Each step is
declared once (`orchestrator.domain.steps`) and given its body here; a body reads the saga,
calls its service(s) and returns a verdict, which the runner (`step_runner`) stores with the
step's record in one transaction. Steps are guarded by the saga's stored state, so each is safe
to run twice. Plain functions, handed their parts (`parts.Parts`): the Celery tasks that run
them are made at the edge (`orchestrator.entrypoints.saga_tasks`).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from datetime import datetime, timedelta
from typing import Any

from glastonbury import tracing
from orchestrator.adapters.store import Move, StepRun, now
from orchestrator.config import payment_result_timeout
from orchestrator.domain.exceptions import ContractBroken, ServiceUnavailable
from orchestrator.domain.model import (GAVE_UP, PAYMENT_MAY_EXIST, OrderPlaced, PaymentDecided,
                                       Saga, SagaState, customer_reason)
from orchestrator.domain.steps import (AWAIT_PAYMENT, BY_NAME, CHECK_PAYMENT, FAIL_ORDER,
                                       FINALISE_ORDER, RELEASE_RESERVATION, REQUEST_PAYMENT,
                                       RESERVE_TICKETS, VOID_PAYMENT, Plan)
from orchestrator.service_layer.parts import Parts
from orchestrator.service_layer.step_runner import (STEPS, Attempt, Ran, Verdict, advance, done,
                                                    retried_if_the_store_fails, run_step,
                                                    saga_step, take, turn)

log = logging.getLogger(__name__)
S = SagaState
BEFORE_PAYMENT_DECIDED = (S.STARTED, *PAYMENT_MAY_EXIST)


def start(parts: Parts, order_message: dict[str, Any], attempt: Attempt) -> Ran:
    """The order service placed an order: record its saga and take step 1, reserving the
    tickets, at once (the saga's first hop). Once per order: a repeat finds the saga recorded
    and its step done or guarded."""
    order = OrderPlaced.from_message(order_message)

    def record_and_reserve() -> Ran:
        created = parts.store.create_if_absent(order)
        new = Saga(order.order_id, S.STARTED, order.customer_id, order.total, order.lines)
        return run_step(parts, STEPS[RESERVE_TICKETS.name], order.order_id, attempt, follow,
                        drive_on=True, saga=new if created else None)

    try:
        return retried_if_the_store_fails(RESERVE_TICKETS, attempt, record_and_reserve)
    except (ServiceUnavailable, ContractBroken) as error:
        # Given up: the start is no chain with an error callback, so it gives up here.
        step_failed(parts, RESERVE_TICKETS.name, order.order_id, error, attempt.task_id)
        raise


def run(parts: Parts, name: str, order_id: str, attempt: Attempt) -> Ran:
    """Run the step of that name for the saga (what each step's task does)."""
    return run_step(parts, STEPS[name], order_id, attempt, follow)


def drive(parts: Parts, order_id: str) -> None:
    """Run what comes next for the saga in its stored state (resume, or re-drive)."""
    saga = parts.store.current(order_id)
    if saga is not None:
        follow(parts, saga)


def follow(parts: Parts, saga: Saga) -> None:
    plan = next_steps(saga)
    if plan is not None:
        parts.dispatch.run(plan)


def next_steps(saga: Saga) -> Plan | None:
    """The orchestrator's one decision table: state -> the steps that follow."""
    steps = {
        S.STARTED: (RESERVE_TICKETS, REQUEST_PAYMENT),
        S.RESERVED: (REQUEST_PAYMENT,),
        S.APPROVED: (FINALISE_ORDER,),
        S.COMPENSATING: (RELEASE_RESERVATION, FAIL_ORDER),
    }.get(saga.state)
    if steps is None:
        return None  # waiting for the payment (a row in the store), or finished
    if saga.state is S.COMPENSATING and saga.payment_to_void:
        return Plan(saga.order_id, steps, beside=(VOID_PAYMENT,))
    return Plan(saga.order_id, steps)


# -- Step 1: reserve the tickets ------------------------------------------------------------

@saga_step(RESERVE_TICKETS)
def reserve_tickets(saga: Saga, parts: Parts) -> Verdict:
    """Hold every ticket of the order, or none, within what one order and one customer may
    hold; a refusal (out of stock, over a limit, ...) ends the saga as REJECTED, telling the
    customer why without a stock figure (the inventory's answer goes to the step's record). An
    order with nothing to pay (free tickets) goes straight to finalising: no payment is asked
    for."""
    refusal = parts.inventory.reserve(saga.order_id, saga.customer_id, saga.lines)
    if refusal is None and saga.total == 0:
        return turn("reserved", (S.STARTED,), S.APPROVED)
    if refusal is None:
        return advance("reserved", (S.STARTED,), S.RESERVED)
    return compensate(saga, S.REJECTED, refusal.customer_reason(), outcome=refusal.code,
                      detail=refusal.record)


# -- Step 2: request the payment (asynchronous: the result comes later, from Kafka) ----------

@saga_step(REQUEST_PAYMENT)
def request_payment(saga: Saga, parts: Parts) -> Verdict:
    """Ask for the payment; the saga then waits as a row until the result or its deadline.

    The result may be stored before this step is (the bridge accepts it in RESERVED too), and
    the deadline counts from the last request: retries while the service is down are no wait.
    """
    status = parts.payments.request(saga.order_id, saga.customer_id, saga.total)
    return advance(f"payment {status.lower()}", (S.RESERVED, S.AWAITING_PAYMENT),
                   S.AWAITING_PAYMENT, opens=AWAIT_PAYMENT.name, payment_requested=True,
                   payment_deadline=payment_deadline())


def payment_deadline() -> datetime:
    return now() + timedelta(seconds=payment_result_timeout())


# -- Step 3: the payment result --------------------------------------------------------------

def record_payment_results(parts: Parts, results: Iterable[PaymentDecided]
                           ) -> list[tuple[PaymentDecided, str]]:
    """The payment service decided (Kafka bridge, or check_payment): store it, then act on it.

    Every result of a batch and its message id are stored in one transaction, so a message
    delivered twice, late or out of order moves the saga at most once; what follows each one
    is sent once they are stored. A result for another amount than the saga's total changes
    nothing: it comes back with the reason, for the caller to park. What follows a result goes
    on in the trace it came in, if any.
    """
    refused, follow_ups = [], []
    with parts.store.transaction() as tx:
        for result in results:
            follow_up = _decide_on_payment(parts, result, tx)
            if isinstance(follow_up, str):
                refused.append((result, follow_up))
            else:
                follow_ups.append((result.trace, follow_up))
    for trace, follow_up in follow_ups:
        tracing.within(trace, follow_up)
    return refused


def _decide_on_payment(parts: Parts, result: PaymentDecided, tx: Any
                       ) -> Callable[[], None] | str:
    """What the result means for its saga, stored; what to send once stored, or why not."""
    store = parts.store
    saga = store.current(result.order_id, tx)
    if saga is None:
        log.warning("payment result for unknown order %s ignored", result.order_id)
        return _nothing
    if result.amount is not None and result.amount != saga.total:
        return f"the payment is for {result.amount}, the order's total is {saga.total}"
    if not store.record_event_once(result.event_id, result.order_id, tx):
        return _nothing
    if saga.state in PAYMENT_MAY_EXIST:
        # The wait began when the request was stored (or now, if the result came first).
        wait = StepRun(AWAIT_PAYMENT.name, "approved" if result.approved else "declined", now(),
                       counted=True)
        if result.approved:
            move = Move(PAYMENT_MAY_EXIST, S.APPROVED)
            store.finish_step(saga.order_id, wait, move, tx)
            saga.state = S.APPROVED
            return lambda: follow(parts, saga)
        verdict = compensate(saga, S.PAYMENT_FAILED,
                             f"Payment declined: {result.reason or 'no reason given'}",
                             void=False)
        if store.finish_step(saga.order_id, wait, verdict.move, tx):
            take(saga, verdict)
            return lambda: follow(parts, saga)
        return _nothing
    if result.approved and saga.state in GAVE_UP:
        # Approved after the saga gave up: the money goes back (see void_payment).
        store.update(saga.order_id, tx, payment_to_void=True)
        return lambda: parts.dispatch.send(saga.order_id, VOID_PAYMENT)
    return _nothing


def _nothing() -> None:
    return None


@saga_step(CHECK_PAYMENT)
def check_payment(saga: Saga, parts: Parts) -> Verdict:
    """No result by the deadline: ask the payment service; cancel what is still undecided."""
    payment = parts.payments.status(saga.order_id)
    if payment is None or payment.status not in ("APPROVED", "DECLINED"):
        payment = parts.payments.cancel(saga.order_id)  # cancelled now: never approved later
    if payment.status in ("APPROVED", "DECLINED"):
        refused = record_payment_results(parts, [PaymentDecided(
            f"check:{saga.order_id}", saga.order_id, payment.status == "APPROVED",
            payment.reason, payment.payment_id, payment.amount)])
        if refused:  # the payment service's own record disagrees with the order
            return done(f"payment {payment.status.lower()}, but {refused[0][1]}", parked=True)
        return done(f"payment {payment.status.lower()}")
    reason = f"No payment result within {payment_result_timeout():g} s; the payment was cancelled."
    return compensate(saga, S.PAYMENT_FAILED, reason, outcome="payment cancelled", void=False)


# -- Step 4: finalise (after approval the saga only moves forward) ---------------------------

@saga_step(FINALISE_ORDER)
def finalise_order(saga: Saga, parts: Parts) -> Verdict:
    """The tickets held in step 1 are sold, and the order becomes COMPLETED; so does the saga."""
    parts.inventory.confirm(saga.order_id)
    parts.orders.record_outcome(saga.order_id, "COMPLETED", None)
    return advance("completed", (S.APPROVED,), S.COMPLETED)


# -- Compensation ------------------------------------------------------------------------------

def compensate(saga: Saga, ends_as: SagaState, reason: str, outcome: str = "compensating",
               void: bool | None = None, detail: str | None = None) -> Verdict:
    """Turn the saga back (before the payment was approved): release, void, fail the order.

    `void` says whether a payment may have been taken and must be cancelled or refunded; by
    default, whenever one may have been asked for (a request whose answer was lost included).
    `reason` is the customer's; `detail`, for operators, goes to the step's record.
    """
    if void is None:
        void = saga.payment_requested or saga.state in PAYMENT_MAY_EXIST
    return turn(outcome, BEFORE_PAYMENT_DECIDED, S.COMPENSATING, detail=detail, outcome=ends_as,
                reason=customer_reason(reason), payment_to_void=void)


def start_compensation(parts: Parts, saga: Saga, ends_as: SagaState, reason: str) -> bool:
    """Compensate a saga from outside a step (an operator, a step that gave up); False if it
    moved on meanwhile."""
    verdict = compensate(saga, ends_as, reason)
    assert verdict.move is not None
    if not parts.store.transition(saga.order_id, verdict.move.allowed, verdict.move.to,
                                  **verdict.move.changes):
        return False
    if saga.state is S.AWAITING_PAYMENT:
        parts.store.finish_step(saga.order_id, StepRun(AWAIT_PAYMENT.name, "gave up", now(),
                                                       counted=True))
    take(saga, verdict)
    follow(parts, saga)
    return True


@saga_step(RELEASE_RESERVATION)
def release_reservation(saga: Saga, parts: Parts) -> Verdict:
    """Undo step 1: the held tickets go back on sale (a no-op if none are held)."""
    parts.inventory.release(saga.order_id)
    return done("released")


@saga_step(FAIL_ORDER)
def fail_order(saga: Saga, parts: Parts) -> Verdict:
    """The order ends REJECTED or PAYMENT_FAILED, with the reason the customer sees."""
    ends_as = saga.outcome or S.PAYMENT_FAILED
    parts.orders.record_outcome(saga.order_id, ends_as.value, saga.reason)
    return advance(ends_as.value.lower(), (S.COMPENSATING,), ends_as)


@saga_step(VOID_PAYMENT, runs_when=lambda saga: saga.payment_to_void)
def void_payment(saga: Saga, parts: Parts) -> Verdict:
    """Undo step 2: cancel a payment still undecided, refund one that was approved."""
    payment = parts.payments.cancel(saga.order_id)
    status = payment.status
    if status == "APPROVED":
        refunded = parts.payments.refund(saga.order_id)
        status = refunded.status if refunded else "REFUNDED"
    return done(f"payment {status.lower()}", payment_to_void=False)


# -- When a step fails for good (each step's declaration says how the saga then ends) -----------

def step_failed(parts: Parts, step: str, order_id: str, exc: BaseException,
                task_id: str | None) -> None:
    """A step failed for good. Before the payment is decided the saga compensates, telling the
    customer what its declaration says (the failure itself stays in the step's record); after
    it (finalising, compensating) it must finish, so the reconciler drives the step again."""
    error = f"{type(exc).__name__}: {exc}"
    parts.store.finish_step(order_id, StepRun(step, "failed", now(), task_id, counted=True,
                                              error=error))
    saga = parts.store.current(order_id)
    declared = BY_NAME.get(step)
    if saga is None or declared is None or declared.gives_up_as is None:
        return
    assert declared.gives_up_saying is not None
    start_compensation(parts, saga, declared.gives_up_as, declared.gives_up_saying)
