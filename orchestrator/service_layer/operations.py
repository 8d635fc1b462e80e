"""What a person may do to a saga (command line and dashboard alike), with the safety rules.

Each action answers one sentence of outcome, or raises `Refused` with the reason it is unsafe:
a finished saga is never retried, a saga is never compensated twice, and a saga whose payment
was approved only moves forward.
"""

from __future__ import annotations

from orchestrator.domain.model import TERMINAL, SagaState
from orchestrator.domain.saga import Saga
from orchestrator.domain.steps import REQUEST_PAYMENT
from orchestrator.service_layer import runner
from orchestrator.service_layer.parts import Parts

S = SagaState


class Refused(Exception):
    """The action is unsafe for this saga; the message says why."""


def retry(parts: Parts, order_id: str) -> str:
    """Drive the saga's current step again (and unpark it)."""
    saga = _saga(parts, order_id)
    if saga.state in TERMINAL:
        raise Refused(f"saga {order_id} is {saga.state}: there is nothing to retry")
    saga.unpark()
    with parts.uow() as uow:
        uow.sagas.save(saga)
        uow.sagas.restart_unfinished_steps(order_id)
        uow.commit()
    if saga.state is S.AWAITING_PAYMENT:
        # The payment request is idempotent: sending it again recovers a request that was lost.
        parts.dispatch.send(order_id, REQUEST_PAYMENT)
        return f"{order_id}: payment request sent again; waiting for its result"
    runner.follow(parts, saga)
    return f"{order_id}: {saga.state} driven again"


def compensate(parts: Parts, order_id: str, reason: str = "Compensated by an operator.") -> str:
    """Undo what the saga did and fail the order, if its payment is not approved yet."""
    saga = _saga(parts, order_id)
    if saga.state in TERMINAL:
        raise Refused(f"saga {order_id} is {saga.state} already: nothing to compensate")
    if saga.state is S.COMPENSATING:
        raise Refused(f"saga {order_id} is compensating already (use retry to drive it on)")
    if saga.state is S.APPROVED:
        raise Refused(f"saga {order_id} has an approved payment: it can only go forward "
                      "(use retry)")
    if not runner.compensate(parts, saga, reason):
        raise Refused(f"saga {order_id} moved on meanwhile; look again")
    return f"{order_id}: compensating, the order will end {saga.ends_as}"


def _saga(parts: Parts, order_id: str) -> Saga:
    saga = runner.read(parts, order_id)
    if saga is None:
        raise Refused(f"no saga for order {order_id}")
    return saga
