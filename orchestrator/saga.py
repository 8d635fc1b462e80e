"""The ticket-order saga, top to bottom: each step, what undoes it, what comes next.

    start ──► reserve_tickets ──► request_payment ──► (waits: a row, no worker, no thread)
                   │ out of stock                          │ payment result from Kafka, or
                   │                                       │ check_payment after the deadline
                   ▼                       approved ◄──────┴──────► declined / no result
            compensate(REJECTED)              │                          │
                                     confirm_reservation         compensate(PAYMENT_FAILED)
                                     complete_order ──► COMPLETED

    compensate(outcome): release_reservation ──► fail_order ──► REJECTED | PAYMENT_FAILED
                         (and void_payment beside it, when a payment may have been taken)

Services only do their step and answer; every decision is made here. Steps are Celery tasks
(`orchestrator.steps`), guarded by the saga's stored state so each is safe to run twice.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from typing import Any

from celery import chain, group
from celery.canvas import Signature

from orchestrator.adapters.services import Answer
from orchestrator.adapters.store import now
from orchestrator.celery_app import app
from orchestrator.config import payment_result_timeout
from orchestrator.domain.model import (GAVE_UP, InvalidMessage, OrderPlaced, PaymentDecided,
                                       Saga, SagaState, customer_reason)
from orchestrator.steps import StepInput, Stop, in_state, saga_step, signature
from orchestrator.wiring import inventory, orders, payments, store

log = logging.getLogger(__name__)
S = SagaState
BEFORE_PAYMENT_DECIDED = (S.STARTED, S.RESERVED, S.AWAITING_PAYMENT)


@app.task(name="saga.start")
def start(order_message: dict[str, Any]) -> str:
    """The order service placed an order: record its saga and set it going (once per order)."""
    order = OrderPlaced.from_message(order_message)
    if not store().create_if_absent(order):
        return "already started"
    drive(order.order_id)
    return "started"


def drive(order_id: str) -> None:
    """Run what comes next for the saga in its stored state (start, resume, or re-drive)."""
    saga = store().get(order_id)
    canvas = next_canvas(saga) if saga else None
    if canvas is not None:
        canvas.apply_async()


def next_canvas(saga: Saga) -> Signature | None:
    """The orchestrator's one decision table: state -> the steps that follow."""
    steps = {
        S.STARTED: [reserve_tickets, request_payment],
        S.RESERVED: [request_payment],
        S.APPROVED: [confirm_reservation, complete_order],
        S.COMPENSATING: [release_reservation, fail_order],
    }.get(saga.state)
    if steps is None:
        return None  # waiting for the payment (a row in the store), or finished
    canvas = chain(*(signature(step, saga.order_id) for step in steps))
    canvas = canvas.on_error(on_step_failed.s())
    if saga.state is S.COMPENSATING and saga.payment_to_void:
        return group(canvas, signature(void_payment, saga.order_id))
    return canvas


# -- Step 1: reserve the tickets ------------------------------------------------------------

@saga_step("reserve_tickets", runs_when=in_state(S.STARTED))
def reserve_tickets(saga: Saga) -> str | Stop:
    """Hold every ticket of the order, or none; out of stock ends the saga as REJECTED."""
    answer = inventory().reserve(saga.order_id, saga.lines)
    if answer.status in (200, 201):
        store().transition(saga.order_id, [S.STARTED], S.RESERVED)
        return "reserved"
    return Stop(answer.error or "rejected",
                then=compensate(saga, S.REJECTED, f"Tickets not available: {_message(answer)}"))


# -- Step 2: request the payment (asynchronous: the result comes later, from Kafka) ----------

@saga_step("request_payment", runs_when=in_state(S.RESERVED, S.AWAITING_PAYMENT))
def request_payment(saga: Saga) -> str | Stop:
    """Ask for the payment; the saga then waits as a row until the result or its deadline."""
    # Waiting is recorded before the request (the result may arrive before we return), and
    # the deadline counts from the last attempt: retries while the service is down are no wait.
    if saga.state is S.RESERVED:
        if not store().transition(saga.order_id, [S.RESERVED], S.AWAITING_PAYMENT,
                                  payment_requested=True, payment_deadline=_payment_deadline()):
            return Stop("skipped: the saga moved on")
        store().begin_step(saga.order_id, "await_payment", None)
    else:
        _push_payment_deadline(saga.order_id)
    answer = payments().request(saga.order_id, saga.customer_id, str(saga.total))
    _push_payment_deadline(saga.order_id)
    return f"payment {str(answer.body.get('status', 'requested')).lower()}"


def _payment_deadline() -> datetime:
    return now() + timedelta(seconds=payment_result_timeout())


def _push_payment_deadline(order_id: str) -> None:
    store().transition(order_id, [S.AWAITING_PAYMENT], S.AWAITING_PAYMENT,
                       payment_deadline=_payment_deadline())


# -- Step 3: the payment result --------------------------------------------------------------

def record_payment_result(result: PaymentDecided) -> None:
    """The payment service decided (Kafka bridge, or check_payment): store it, then act on it.

    The event id is stored in the same transaction as the transition, so a message delivered
    twice, late or out of order moves the saga at most once.
    """
    with store().transaction() as tx:
        if not store().record_event_once(result.event_id, result.order_id, tx):
            return
        saga = store().get(result.order_id, tx)
        if saga is None:
            log.warning("payment result for unknown order %s ignored", result.order_id)
            return
        follow_up = _decide_on_payment(saga, result, tx)
    follow_up()


def _decide_on_payment(saga: Saga, result: PaymentDecided, tx: Any) -> Any:
    if saga.state is S.AWAITING_PAYMENT:
        store().end_step(saga.order_id, "await_payment",
                         "approved" if result.approved else "declined", tx=tx)
        if result.approved:
            store().transition(saga.order_id, [S.AWAITING_PAYMENT], S.APPROVED, tx)
            return lambda: drive(saga.order_id)
        reason = f"Payment declined: {result.reason or 'no reason given'}"
        canvas = compensate(saga, S.PAYMENT_FAILED, reason, tx=tx, void=False)
        return lambda: canvas.apply_async() if canvas else None
    if result.approved and saga.state in GAVE_UP:
        # Approved after the saga gave up: the money goes back (see void_payment).
        store().update(saga.order_id, tx, payment_to_void=True)
        return lambda: void_payment.apply_async((StepInput(saga.order_id).as_message(),))
    return lambda: None


@saga_step("check_payment", runs_when=in_state(S.AWAITING_PAYMENT))
def check_payment(saga: Saga) -> str | Stop:
    """No result by the deadline: ask the payment service; cancel what is still undecided."""
    answer = payments().status(saga.order_id)
    status = answer.body.get("status") if answer.status == 200 else None
    if status not in ("APPROVED", "DECLINED"):
        answer = payments().cancel(saga.order_id)  # cancelled now: it can never be approved
        status = answer.body.get("status")
    if status in ("APPROVED", "DECLINED"):
        record_payment_result(PaymentDecided(f"check:{saga.order_id}", saga.order_id,
                                             status == "APPROVED", answer.body.get("reason")))
        return f"payment {status.lower()}"
    reason = f"No payment result within {payment_result_timeout():g} s; the payment was cancelled."
    return Stop("payment cancelled", then=compensate(saga, S.PAYMENT_FAILED, reason, void=False))


# -- Step 4: finalise (after approval the saga only moves forward) ---------------------------

@saga_step("confirm_reservation", runs_when=in_state(S.APPROVED))
def confirm_reservation(saga: Saga) -> str:
    """The tickets held in step 1 are sold."""
    inventory().confirm(saga.order_id)
    return "confirmed"


@saga_step("complete_order", runs_when=in_state(S.APPROVED))
def complete_order(saga: Saga) -> str:
    """The order becomes COMPLETED; so does the saga."""
    orders().record_outcome(saga.order_id, "COMPLETED", None)
    store().transition(saga.order_id, [S.APPROVED], S.COMPLETED)
    return "completed"


# -- Compensation ------------------------------------------------------------------------------

def compensate(saga: Saga, outcome: SagaState, reason: str, tx: Any = None,
               void: bool | None = None) -> Signature | None:
    """Turn the saga back (before the payment was approved); the canvas that undoes it.

    `void` says whether a payment may have been taken and must be cancelled or refunded; by
    default, whenever one was requested.
    """
    void = saga.payment_requested if void is None else void
    if not store().transition(saga.order_id, BEFORE_PAYMENT_DECIDED, S.COMPENSATING, tx,
                              outcome=outcome, reason=customer_reason(reason),
                              payment_to_void=void):
        return None  # someone else decided first
    if saga.state is S.AWAITING_PAYMENT:
        # A declined result closed the wait already, with the better word for it.
        store().end_step(saga.order_id, "await_payment", "gave up", tx=tx, unless_ended=True)
    saga.state, saga.payment_to_void = S.COMPENSATING, void
    return next_canvas(saga)


@saga_step("release_reservation", runs_when=in_state(S.COMPENSATING))
def release_reservation(saga: Saga) -> str:
    """Undo step 1: the held tickets go back on sale (a no-op if none are held)."""
    inventory().release(saga.order_id)
    return "released"


@saga_step("fail_order", runs_when=in_state(S.COMPENSATING))
def fail_order(saga: Saga) -> str:
    """The order ends REJECTED or PAYMENT_FAILED, with the reason the customer sees."""
    outcome = saga.outcome or S.PAYMENT_FAILED
    orders().record_outcome(saga.order_id, outcome.value, saga.reason)
    store().transition(saga.order_id, [S.COMPENSATING], outcome)
    return outcome.value.lower()


@saga_step("void_payment", runs_when=lambda saga: saga.payment_to_void)
def void_payment(saga: Saga) -> str:
    """Undo step 2: cancel a payment still undecided, refund one that was approved."""
    status = payments().cancel(saga.order_id).body.get("status")
    if status == "APPROVED":
        status = payments().refund(saga.order_id).body.get("status", "REFUNDED")
    store().update(saga.order_id, payment_to_void=False)
    return f"payment {str(status).lower()}"


# -- When a step fails for good -----------------------------------------------------------------

GIVE_UP_AS = {"reserve_tickets": S.REJECTED, "request_payment": S.PAYMENT_FAILED}


@app.task(name="saga.on_step_failed")
def on_step_failed(request: Any, exc: BaseException, traceback: Any) -> None:
    """Error callback of every chain. Runs inside the failing worker: record, enqueue, return.

    Before the payment is decided the saga compensates; after it (finalising, compensating) it
    must finish, so the reconciler drives the failed step again later.
    """
    step = str(request.task).removeprefix("saga.")
    try:
        order_id = StepInput.from_message(request.args[0]).order_id
    except (InvalidMessage, IndexError, KeyError, TypeError):
        log.error("step %s failed with an unreadable message: %r", step, request.args)
        return
    error = f"{type(exc).__name__}: {exc}"
    store().end_step(order_id, step, "failed", error=error)
    saga = store().get(order_id)
    if saga is None or step not in GIVE_UP_AS:
        return
    reason = f"The {step.replace('_', ' ')} step failed: {exc}"
    canvas = compensate(saga, GIVE_UP_AS[step], reason)
    if canvas is not None:
        canvas.apply_async()


def _message(answer: Answer) -> str:
    return str(answer.body.get("message") or answer.error or f"HTTP {answer.status}")
