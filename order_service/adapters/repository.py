"""Orders in and out of the database, as domain objects."""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from datetime import datetime
from typing import Any, Protocol

from sqlalchemy import Connection, Row, Select, bindparam, insert, select, tuple_, update
from sqlalchemy.exc import IntegrityError

from glastonbury.db import insert_with_children
from order_service.adapters.tables import order_lines, orders
from order_service.domain.model import Order, OrderLine, OrderStatus, Outcome

# The statements of placing an order and of its outcome, built once with bind parameters:
# compiled once per process, not rebuilt and re-keyed by SQLAlchemy on every request.
NEW_ORDER = insert(orders).values({column.name: bindparam(column.name)
                                   for column in orders.columns})
# An order and its lines in one statement (a round trip to a database server, not two).
ORDER_BY_ID = (select(orders, *(column.label(f"line_{column.name}")
                                for column in order_lines.columns if column.name != "order_id"))
               .outerjoin(order_lines, order_lines.c.order_id == orders.c.id)
               .where(orders.c.id == bindparam("order_id")).order_by(order_lines.c.position))
LINES_OF = (select(order_lines).where(order_lines.c.order_id.in_(bindparam("ids", expanding=True)))
            .order_by(order_lines.c.order_id, order_lines.c.position))
# (A parameter of an UPDATE's WHERE may not bear the name of a column it sets: `key_...`.)
SET_OUTCOME = (update(orders).where(orders.c.id == bindparam("key_id"))
               .values(status=bindparam("status"), reason=bindparam("reason"),
                       updated_at=bindparam("updated_at")))
# An outcome as a compare-and-set: only a PENDING order ends, the database deciding under the
# row's lock; the order as it ended comes back with it.
END_IF_PENDING = (SET_OUTCOME.where(orders.c.status == OrderStatus.PENDING.value)
                  .returning(*orders.columns))


# An order's place in `GET /orders`: its creation time, then its id (two orders may share a
# time; never an id).
Position = tuple[datetime, uuid.UUID]


class DuplicateIdempotencyKey(Exception):
    """Another order of the customer's already holds this idempotency key."""


class OrderRepository(Protocol):
    """Where orders are kept; the service layer sees only this."""

    def add(self, order: Order) -> None: ...
    def end(self, order_id: uuid.UUID, outcome: Outcome) -> Order | None: ...
    def get(self, order_id: uuid.UUID) -> Order | None: ...
    def get_by_idempotency_key(self, customer_id: uuid.UUID, key: str) -> Order | None: ...
    def find(self, status: OrderStatus | None, created_before: datetime | None,
             limit: int, created_after: datetime | None = None,
             after: Position | None = None) -> list[Order]: ...


class SqlOrderRepository:
    """Orders in the `orders` and `order_lines` tables, through one connection."""

    def __init__(self, connection: Connection):
        self.connection = connection

    def add(self, order: Order) -> None:
        """Insert the order and its lines (one statement on PostgreSQL); DuplicateIdempotencyKey
        if its key is taken."""
        lines = [_line_row(order.id, position, line)
                 for position, line in enumerate(order.lines)]
        try:
            insert_with_children(self.connection, NEW_ORDER, _order_row(order), order_lines,
                                 lines)
        except IntegrityError as error:
            if order.idempotency_key is None:
                raise
            raise DuplicateIdempotencyKey(order.idempotency_key) from error

    def end(self, order_id: uuid.UUID, outcome: Outcome) -> Order | None:
        """The order ended with `outcome` if it was PENDING, as it ended; None if it had ended
        already, or there is no such order."""
        ended = self.connection.execute(END_IF_PENDING, {
            "key_id": order_id, "status": outcome.status.value, "reason": outcome.reason,
            "updated_at": outcome.at}).all()
        return self._with_lines(ended)[0] if ended else None

    def get(self, order_id: uuid.UUID) -> Order | None:
        """The order, or None."""
        rows = self.connection.execute(ORDER_BY_ID, {"order_id": order_id}).all()
        if not rows:
            return None
        return _order(rows[0], [OrderLine(row.line_ticket_id, row.line_name, row.line_amount,
                                          row.line_quantity)
                                for row in rows if row.line_position is not None])

    def get_by_idempotency_key(self, customer_id: uuid.UUID, key: str) -> Order | None:
        """The customer's order placed with this idempotency key, or None."""
        return self._one(select(orders).where(orders.c.customer_id == customer_id,
                                              orders.c.idempotency_key == key))

    def find(self, status: OrderStatus | None, created_before: datetime | None,
             limit: int, created_after: datetime | None = None,
             after: Position | None = None) -> list[Order]:
        """Up to `limit` orders in (created_at, id) order, optionally of one status, older than
        a time, created at or after a time, and placed after a `Position` (the last order of
        the page before: read from there in the index, never counted past)."""
        query = select(orders).order_by(orders.c.created_at, orders.c.id).limit(limit)
        if status is not None:
            query = query.where(orders.c.status == status.value)
        if created_before is not None:
            query = query.where(orders.c.created_at < created_before)
        if created_after is not None:
            query = query.where(orders.c.created_at >= created_after)
        if after is not None:
            query = query.where(tuple_(orders.c.created_at, orders.c.id)
                                > tuple_(*after, types=(orders.c.created_at.type,
                                                        orders.c.id.type)))
        return self._with_lines(self.connection.execute(query).all())

    def _one(self, query: Select[Any]) -> Order | None:
        found = self._with_lines(self.connection.execute(query).all())
        return found[0] if found else None

    def _with_lines(self, rows: Iterable[Row[Any]]) -> list[Order]:
        rows = list(rows)
        lines: dict[uuid.UUID, list[OrderLine]] = {row.id: [] for row in rows}
        if lines:
            for line in self.connection.execute(LINES_OF, {"ids": list(lines)}):
                lines[line.order_id].append(
                    OrderLine(line.ticket_id, line.name, line.amount, line.quantity))
        return [_order(row, lines[row.id]) for row in rows]


def _order_row(order: Order) -> dict[str, Any]:
    return {
        "id": order.id, "customer_id": order.customer_id, "amount": order.amount,
        "status": order.status.value, "reason": order.reason,
        "idempotency_key": order.idempotency_key,
        "created_at": order.created_at, "updated_at": order.updated_at,
    }


def _line_row(order_id: uuid.UUID, position: int, line: OrderLine) -> dict[str, Any]:
    return {"order_id": order_id, "position": position, "ticket_id": line.ticket_id,
            "name": line.name, "amount": line.amount, "quantity": line.quantity}


def _order(row: Row[Any], lines: list[OrderLine]) -> Order:
    return Order(
        id=row.id, customer_id=row.customer_id, amount=row.amount, lines=lines,
        created_at=row.created_at, updated_at=row.updated_at,
        status=OrderStatus(row.status), reason=row.reason, idempotency_key=row.idempotency_key,
    )
