"""The ticket-order saga on one screen: where each step's outcome takes the saga, what runs in
each state, and each step's body.

    STARTED ─reserve_tickets─► RESERVED ─request_payment─► AWAITING_PAYMENT (a row, a deadline)
       │ refused                                                 │ the payment's result: from Kafka,
       │                                                         │ or check_payment asks for it
       │                           APPROVED ◄──── approved ──────┴────── declined / no result
       │                              │ finalise_order                           │
       │                              ▼                                          │
       │                          COMPLETED                                      │
       ▼                                                                         │
    COMPENSATING ◄───────────────────────────────────────────────────────────────┘
       └─► release_reservation ─► fail_order ─► REJECTED | PAYMENT_FAILED
           (void_payment beside them while the saga owes a payment back)

    nothing to pay (free tickets): STARTED ─reserve_tickets─► APPROVED
    a step given up on before the payment is decided: COMPENSATING, in its declared words

How it runs (`orchestrator.service_layer.runner`), one way for every step: the runner reads the
saga, runs the step's body, which calls its service(s) and says what happened (an `Outcome`);
the saga takes the table's row for its state and that outcome (`Saga.take`); the runner stores
the move and the step's record in one transaction, then sends what runs in the saga's new state
as a chain. A step whose saga did not move lets the rest of its chain go on. Bodies never name
states; the table does.
"""

from __future__ import annotations

from dataclasses import replace
from decimal import Decimal

from glastonbury.contracts.statuses import DECIDED, OrderStatus, PaymentStatus
from orchestrator.domain.exceptions import ConflictingOutcome
from orchestrator.domain.model import PAYMENT_MAY_EXIST, SagaState
from orchestrator.domain.ports import Services
from orchestrator.domain.saga import Saga
from orchestrator.domain.steps import (AWAIT_PAYMENT, CHECK_PAYMENT, FAIL_ORDER, FINALISE_ORDER,
                                       RELEASE_RESERVATION, REQUEST_PAYMENT, RESERVE_TICKETS,
                                       VOID_PAYMENT, Flow, Outcome, Row)

S = SagaState
PAYMENT_RESULT = (AWAIT_PAYMENT, CHECK_PAYMENT)   # from the bridge, or asked for after the deadline
OWING = (S.COMPENSATING, S.REJECTED, S.PAYMENT_FAILED)

SAGA = Flow(
    # What runs while a saga stands in each state, one step after the other: a move into the
    # state sends it, a re-drive sends it again.
    runs={
        S.STARTED: (RESERVE_TICKETS,),          # saga.start runs it at once, as it records the saga
        S.RESERVED: (REQUEST_PAYMENT,),
        S.AWAITING_PAYMENT: (AWAIT_PAYMENT,),   # the wait: a row with a deadline, no worker
        S.APPROVED: (FINALISE_ORDER,),
        S.COMPENSATING: (RELEASE_RESERVATION, FAIL_ORDER),
    },
    # Beside the compensation, while the saga owes a payment back (one may have been taken).
    beside={S.COMPENSATING: VOID_PAYMENT},
    rows=(
        #   step                 it runs in          outcome           the saga moves to
        Row(RESERVE_TICKETS,     (S.STARTED,),       "reserved",       S.RESERVED),
        Row(RESERVE_TICKETS,     (S.STARTED,),       "nothing to pay", S.APPROVED),
        Row(RESERVE_TICKETS,     (S.STARTED,),       "refused",        S.COMPENSATING),
        Row(REQUEST_PAYMENT,     PAYMENT_MAY_EXIST,  "requested",      S.AWAITING_PAYMENT),
        Row(PAYMENT_RESULT,      PAYMENT_MAY_EXIST,  "approved",       S.APPROVED),
        Row(PAYMENT_RESULT,      PAYMENT_MAY_EXIST,  "declined",       S.COMPENSATING),
        Row(PAYMENT_RESULT,      PAYMENT_MAY_EXIST,  "no result",      S.COMPENSATING),
        Row(FINALISE_ORDER,      (S.APPROVED,),      "completed",      S.COMPLETED),
        Row(RELEASE_RESERVATION, (S.COMPENSATING,),  "released",       None),   # its chain goes on
        Row(FAIL_ORDER,          (S.COMPENSATING,),  "rejected",       S.REJECTED),
        Row(FAIL_ORDER,          (S.COMPENSATING,),  "payment_failed", S.PAYMENT_FAILED),
        Row(VOID_PAYMENT,        OWING,              "voided",         None,
            gives_the_payment_back=True),
    ),
)


# -- Step 1: reserve the tickets ---------------------------------------------------------------

@SAGA.body(RESERVE_TICKETS)
def reserve_tickets(saga: Saga, services: Services) -> Outcome:
    """Hold every ticket of the order, or none, within what one order and one customer may
    hold. A refusal (out of stock, over a limit, ...) tells the customer why without a stock
    figure; the inventory's answer goes to the step's record. An order with nothing to pay
    (free tickets) asks for no payment."""
    refusal = services.inventory.reserve(saga.order_id, saga.customer_id, saga.lines)
    if refusal is not None:
        return Outcome("refused", said=refusal.code, detail=refusal.record,
                       reason=refusal.customer_reason())
    return Outcome("nothing to pay" if saga.total == 0 else "reserved")


# -- Step 2: request the payment (asynchronous: the result comes later, from Kafka) ------------

@SAGA.body(REQUEST_PAYMENT)
def request_payment(saga: Saga, services: Services) -> Outcome:
    """Ask for the payment; the saga then waits as a row until the result or its deadline.

    The result may be stored before this step is (it is taken in RESERVED too), and the
    deadline counts from the last request: retries while the service is down are no wait.
    """
    status = services.payments.request(saga.order_id, saga.customer_id, saga.total)
    return Outcome("requested", said=f"payment {status.lower()}")


# -- Step 3: the payment's result (the bridge hands it in; check_payment asks after the deadline)

def payment_result(saga: Saga, approved: bool, reason: str | None,
                   amount: Decimal | None) -> Outcome:
    """What the payment service's decision means for the saga. A decision about another amount
    than the order's total changes nothing: ConflictingOutcome, for a person to look at."""
    if amount is not None and amount != saga.total:
        raise ConflictingOutcome(f"the payment is for {amount}, the order's total is "
                                 f"{saga.total}")
    if approved:
        return Outcome("approved")
    return Outcome("declined", reason=f"Payment declined: {reason or 'no reason given'}")


@SAGA.body(CHECK_PAYMENT)
def check_payment(saga: Saga, services: Services) -> Outcome:
    """No result by the deadline: ask the payment service; cancel what is still undecided."""
    payment = services.payments.status(saga.order_id)
    if payment is None or payment.status not in DECIDED:
        payment = services.payments.cancel(saga.order_id)  # cancelled now: never approved later
    said = f"payment {payment.status.lower()}"
    if payment.status in DECIDED:
        decided = payment_result(saga, payment.status == PaymentStatus.APPROVED, payment.reason,
                                 payment.amount)
        return replace(decided, said=said)
    return Outcome("no result", said=said, reason=f"No payment result within "
                   f"{services.payment_wait_s:g} s; the payment was cancelled.")


# -- Step 4: finalise (after approval the saga only moves forward) -----------------------------

@SAGA.body(FINALISE_ORDER)
def finalise_order(saga: Saga, services: Services) -> Outcome:
    """The tickets held in step 1 are sold, and the order becomes COMPLETED."""
    services.inventory.confirm(saga.order_id)
    services.orders.record_outcome(saga.order_id, OrderStatus.COMPLETED, None)
    return Outcome("completed")


# -- Compensation --------------------------------------------------------------------------------

@SAGA.body(RELEASE_RESERVATION)
def release_reservation(saga: Saga, services: Services) -> Outcome:
    """Undo step 1: the held tickets go back on sale (a no-op if none are held)."""
    services.inventory.release(saga.order_id)
    return Outcome("released")


@SAGA.body(FAIL_ORDER)
def fail_order(saga: Saga, services: Services) -> Outcome:
    """The order ends REJECTED or PAYMENT_FAILED, as the saga turned back, with the reason the
    customer sees."""
    services.orders.record_outcome(saga.order_id, OrderStatus(saga.ends_as.value),
                                  saga.reason)
    return Outcome(saga.ends_as.value.lower())


@SAGA.body(VOID_PAYMENT)
def void_payment(saga: Saga, services: Services) -> Outcome:
    """Undo step 2: cancel a payment still undecided, refund one that was approved."""
    payment = services.payments.cancel(saga.order_id)
    status = payment.status
    if status == PaymentStatus.APPROVED:
        refunded = services.payments.refund(saga.order_id)
        status = refunded.status if refunded else PaymentStatus.REFUNDED
    return Outcome("voided", said=f"payment {status.lower()}")
