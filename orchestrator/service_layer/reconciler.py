"""The reconciler (a task celery beat sends): finds sagas that stopped moving and drives them on.

Redelivery alone cannot be trusted (a killed worker's task returns only after Redis's visibility
time-out; a lost error callback never returns), so every few seconds this task looks at the
store: steps untouched for too long are driven again, waits past their deadline are checked,
payments to void are voided, and orders whose saga never started are started. A saga driven
too often is parked for a person (`celery -A orchestrator saga retry`).
"""

from __future__ import annotations

import logging
from datetime import timedelta

from glastonbury import settings
from glastonbury.clock import utc_now as now
from orchestrator.adapters import counters, reconciler_queries as queries
from orchestrator.domain.exceptions import ServiceUnavailable
from orchestrator.domain.model import InvalidMessage, OrderPlaced
from orchestrator.domain.saga import Saga
from orchestrator.domain.steps import CHECK_PAYMENT, VOID_PAYMENT
from orchestrator.service_layer.parts import Parts
from orchestrator.service_layer.runner import follow, read

log = logging.getLogger(__name__)


def reconcile(parts: Parts) -> dict[str, int]:
    """One pass over the store; answers how many sagas each kind of repair touched."""
    stuck_after = timedelta(seconds=settings.SAGA_STUCK_AFTER.number())
    repaired = {
        "driven": drive_stuck_sagas(parts, stuck_after),
        "checked": check_expired_payment_waits(parts, stuck_after),
        "voided": void_pending_payments(parts, stuck_after),
        "started": start_orphan_orders(parts, stuck_after),
    }
    if any(repaired.values()):
        log.info("reconciler: %s", ", ".join(f"{what} {count}" for what, count in
                                             repaired.items()))
    counters.record_reconciler_pass(parts.engine, repaired)
    return repaired


def drive_stuck_sagas(parts: Parts, stuck_after: timedelta) -> int:
    """Send again what runs in each stuck saga's state; park one driven too often."""
    driven = 0
    for order_id in queries.stuck_sagas(parts.engine, stuck_after):
        saga = read(parts, order_id)
        if saga is None or _driven_lately(saga, stuck_after):
            continue
        parked = saga.drives >= settings.SAGA_MAX_DRIVES.integer()
        if parked:
            log.error("saga %s parked in %s after %d drives", order_id, saga.state, saga.drives)
            saga.park()
        else:
            saga.driven_again()
        _save(parts, saga)
        if not parked:
            follow(parts, saga)
            driven += 1
    return driven


def _save(parts: Parts, saga: Saga) -> None:
    with parts.uow() as uow:
        uow.sagas.save(saga)
        uow.commit()


def _driven_lately(saga: Saga, stuck_after: timedelta) -> bool:
    """A saga driven again and again waits longer each time (x2, up to x8) before the next drive.

    Its steps may only be queued behind a backlog: driving it every `stuck_after` would add a
    copy of them to the queue each time and make the backlog grow without end.
    """
    backoff = stuck_after * 2 ** min(saga.drives, 3)
    return saga.updated_at is not None and saga.updated_at > now() - backoff


def check_expired_payment_waits(parts: Parts, stuck_after: timedelta) -> int:
    expired = queries.payment_waits_expired(parts.engine)
    for order_id in expired:
        saga = read(parts, order_id)
        if saga is None:
            continue
        # The deadline moves on, so the next pass does not send a second check meanwhile.
        saga.check_payment_by(now() + stuck_after)
        _save(parts, saga)
        parts.dispatch.send(order_id, CHECK_PAYMENT)
    return len(expired)


def void_pending_payments(parts: Parts, stuck_after: timedelta) -> int:
    due = queries.payments_to_void(parts.engine, stuck_after)
    for order_id in due:
        saga = read(parts, order_id)
        if saga is None:
            continue
        _save(parts, saga)   # touched: the next pass leaves it to this void
        parts.dispatch.send(order_id, VOID_PAYMENT)
    return len(due)


ORPHAN_PAGES = 10   # up to 1,000 pending orders looked at a pass


def start_orphan_orders(parts: Parts, stuck_after: timedelta) -> int:
    """Orders the order service holds PENDING with no saga here (Redis was down when placed).

    Pending orders with a saga (waiting for a payment, parked) are paged past, so however many
    there are, none holds back an orphan behind them.
    """
    cutoff, following, orphans = (now() - stuck_after).isoformat(), None, []
    for _ in range(ORPHAN_PAGES):
        try:
            page, following = parts.orders.pending_before(cutoff, following=following)
        except ServiceUnavailable as error:
            log.warning("cannot list pending orders: %s", error)
            break
        known = queries.known(parts.engine, (order["id"] for order in page))
        orphans += [order for order in page if order["id"] not in known]
        if following is None:
            break
    started = 0
    for order in orphans:
        try:
            parts.dispatch.start(OrderPlaced.from_order(order).to_message())
            started += 1
        except InvalidMessage as error:
            log.error("pending order %s cannot be started: %s", order.get("id"), error)
    return started
