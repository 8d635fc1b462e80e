"""The order service's use cases: place an order, read orders (or wait for one to end), record
an order's outcome."""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from glastonbury.clock import utc_now
from order_service.adapters.repository import DuplicateIdempotencyKey, Position
from order_service.adapters.saga_starter import SagaStarter
from order_service.adapters.catalogue import Catalogue
from order_service.domain.model import (IdempotencyKeyReused, Order, OrderLine, OrderStatus,
                                        Outcome, check_against_catalogue, check_order_limits,
                                        order_message)
from order_service.service_layer.outcome_waiters import OutcomeWaiters
from order_service.service_layer.unit_of_work import UnitOfWork


class OrderNotFound(Exception):
    """No order has this id."""

    def __init__(self, order_id: uuid.UUID):
        super().__init__(f"No order has the id {order_id}.")


@dataclass(frozen=True)
class PlaceOrder:
    """A customer's request for tickets, already validated."""

    customer_id: uuid.UUID
    amount: Decimal
    lines: list[OrderLine]
    idempotency_key: str | None = None


def place_order(command: PlaceOrder, uow: UnitOfWork, starter: SagaStarter,
                catalogue: Catalogue | None = None) -> Order:
    """Store a PENDING order, then start its saga.

    An idempotency key is the customer's own: sent again with the same order, it gives the
    order it first made; with another order, IdempotencyKeyReused; another customer's key of
    the same spelling is another key.

    Each line's price must be the catalogue's (NotTheCatalogue otherwise), so the total is the
    catalogue's, and no ticket may be asked more of than one order may (OverOrderLimit); if the
    catalogue cannot be read now, the reserve step checks both instead.
    The order is committed before the saga starts, so the saga never looks for an order that is
    not there yet; if the start is lost, the order stays PENDING for the reconciler.
    """
    if command.idempotency_key is not None:
        with uow:
            existing = _order_with_key(uow, command)
        if existing is not None:
            return existing
    # Outside any transaction: a call to another service never holds a lock here.
    listings = (catalogue.listings([line.ticket_id for line in command.lines]) if catalogue
                else None)
    if listings is not None:
        check_against_catalogue(command.lines, listings)
        check_order_limits(command.lines, listings)
    with uow:
        order = Order.place(command.customer_id, command.amount, command.lines, utc_now(),
                            command.idempotency_key)
        try:
            uow.orders.add(order)
            uow.commit()
        except DuplicateIdempotencyKey:
            # A concurrent request with the same key won the race: answer its order.
            uow.rollback()
            return _order_with_key(uow, command)  # type: ignore[return-value]
    starter.start(order_message(order))
    return order


def _order_with_key(uow: UnitOfWork, command: PlaceOrder) -> Order | None:
    """The customer's order made with the command's key; IdempotencyKeyReused if it differs."""
    if command.idempotency_key is None:
        return None
    order = uow.orders.get_by_idempotency_key(command.customer_id, command.idempotency_key)
    if order is not None and not order.placed_as(command.amount, command.lines):
        raise IdempotencyKeyReused(command.idempotency_key)
    return order


def get_order(order_id: uuid.UUID, uow: UnitOfWork) -> Order:
    """The order, or OrderNotFound."""
    with uow:
        order = uow.orders.get(order_id)
    if order is None:
        raise OrderNotFound(order_id)
    return order


def wait_for_outcome(order_id: uuid.UUID, wait_s: float, reading: Callable[[], UnitOfWork],
                     waiters: OutcomeWaiters, client: str = "") -> Order:
    """The order once it has ended, or as it stands after `wait_s` seconds; at once when
    `waiters` has no slot for `client`, or a later wait on the order took over its slot.
    OrderNotFound if there is none."""
    deadline = time.monotonic() + wait_s
    with waiters.waiting(order_id, client) as waiter:
        while True:
            if waiter is not None:
                waiter.wake.clear()   # before the read: an outcome stored after it wakes us
            order = get_order(order_id, reading())
            remaining = deadline - time.monotonic()
            if (order.status.is_terminal or remaining <= 0 or waiter is None
                    or waiter.superseded):
                return order
            # Woken by an outcome recorded here or by a wait taking over; an outcome recorded
            # by another process of the service is read at the next look.
            waiter.wake.wait(min(remaining, waiters.recheck_s))


@dataclass(frozen=True)
class OrdersPage:
    """A page of `list_orders`: its orders, and whether more follow the last of them."""

    orders: list[Order]
    more: bool


def list_orders(status: OrderStatus | None, created_before: datetime | None, limit: int,
                uow: UnitOfWork, created_after: datetime | None = None,
                after: Position | None = None) -> OrdersPage:
    """Up to `limit` orders, oldest first (by time, then id), filtered by status and creation
    time, from the `Position` after the last order of the page before."""
    with uow:
        # One more than the page: whether another page follows, without a query of its own.
        found = uow.orders.find(status, created_before, limit + 1, created_after, after)
    return OrdersPage(found[:limit], len(found) > limit)


def record_outcome(order_id: uuid.UUID, status: OrderStatus, reason: str | None,
                   uow: UnitOfWork, waiters: OutcomeWaiters | None = None) -> Order:
    """End the order as the orchestrator reports; a repeat is a no-op, a different end conflicts.
    Clients waiting for it here are woken once it is stored.

    The outcome is a compare-and-set (only a PENDING order ends), so two outcomes arriving
    together cannot both win; the order is read only when it had ended already.
    """
    outcome = Outcome.of(status, reason, utc_now())
    with uow:
        order = uow.orders.end(order_id, outcome)
        if order is not None:
            uow.commit()
        else:
            order = uow.orders.get(order_id)
            if order is None:
                raise OrderNotFound(order_id)
            order.record_outcome(status, reason, outcome.at)   # a repeat, or a conflict
    if waiters is not None:
        waiters.ended(order_id)
    return order
