"""In-memory stand-ins for the order service's database and broker."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any, Self

from order_service.adapters.repository import DuplicateIdempotencyKey, Position
from order_service.domain.model import Listing, Order, OrderStatus, Outcome


class FakeOrderRepository:
    """Orders in a dict; `list` and `get` answer as the SQL repository does."""

    def __init__(self) -> None:
        self.orders: dict[uuid.UUID, Order] = {}

    def add(self, order: Order) -> None:
        if order.idempotency_key and self.get_by_idempotency_key(order.customer_id,
                                                                 order.idempotency_key):
            raise DuplicateIdempotencyKey(order.idempotency_key)
        self.orders[order.id] = order

    def get(self, order_id: uuid.UUID) -> Order | None:
        return self.orders.get(order_id)

    def end(self, order_id: uuid.UUID, outcome: Outcome) -> Order | None:
        order = self.orders.get(order_id)
        if order is None or order.status is not OrderStatus.PENDING:
            return None
        order.status, order.reason, order.updated_at = outcome.status, outcome.reason, outcome.at
        return order

    def get_by_idempotency_key(self, customer_id: uuid.UUID, key: str) -> Order | None:
        return next((o for o in self.orders.values()
                     if (o.customer_id, o.idempotency_key) == (customer_id, key)), None)

    def find(self, status: OrderStatus | None, created_before: datetime | None,
             limit: int, created_after: datetime | None = None,
             after: Position | None = None) -> list[Order]:
        found = [o for o in self.orders.values()
                 if (status is None or o.status is status)
                 and (created_before is None or o.created_at < created_before)
                 and (created_after is None or o.created_at >= created_after)
                 and (after is None or (o.created_at, o.id) > after)]
        return sorted(found, key=lambda o: (o.created_at, o.id))[:limit]



class FakeUnitOfWork:
    """A unit of work that counts its commits, so tests can see what was committed when."""

    def __init__(self) -> None:
        self.orders = FakeOrderRepository()
        self.commits = 0

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        pass

    def commit(self) -> None:
        self.commits += 1

    def rollback(self) -> None:
        pass


class FakeSagaStarter:
    """Records each order message; with a unit of work, also how many commits preceded it."""

    def __init__(self, uow: FakeUnitOfWork | None = None) -> None:
        self.uow = uow
        self.messages: list[dict[str, Any]] = []
        self.commits_before_start: list[int] = []

    def start(self, order_message: dict[str, Any]) -> None:
        self.messages.append(order_message)
        self.commits_before_start.append(self.uow.commits if self.uow else 0)


class FakeCatalogue:
    """The inventory's listings from a dict; None (the default): the catalogue cannot be read,
    so the order service accepts orders unchecked (the reserve step checks them)."""

    def __init__(self, listings: dict[uuid.UUID, Listing] | None = None) -> None:
        self.known = listings
        self.asked: list[list[uuid.UUID]] = []

    def listings(self, ticket_ids: list[uuid.UUID]) -> dict[uuid.UUID, Listing] | None:
        self.asked.append(list(ticket_ids))
        if self.known is None:
            return None
        return {ticket: self.known[ticket] for ticket in ticket_ids if ticket in self.known}
