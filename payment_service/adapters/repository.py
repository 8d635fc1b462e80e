"""Reading and writing payments and outbox rows on one database connection (the unit of work's
transaction)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import bindparam, insert, select, update
from sqlalchemy.engine import Connection, RowMapping
from sqlalchemy.exc import IntegrityError

from payment_service.adapters.tables import outbox, payments
from payment_service.domain.model import Payment, PaymentStatus

# The relay's statements run many times a second: built once with bind parameters, each is
# compiled once per process instead of being rebuilt and re-keyed by SQLAlchemy on every call.
PAYMENT_BY_ORDER = select(payments).where(payments.c.order_id == bindparam("order_id"))
REPLACE_IF_STATUS = (update(payments)
                     .where(payments.c.order_id == bindparam("key_order_id"),
                            payments.c.status == bindparam("expected"))
                     .values(status=bindparam("status"), reason=bindparam("reason"),
                             decided_at=bindparam("decided_at"),
                             updated_at=bindparam("updated_at")))
NEW_PAYMENT = insert(payments).values({column.name: bindparam(column.name)
                                       for column in payments.columns})
DUE_PAYMENTS = (select(payments)
                .where(payments.c.status == PaymentStatus.PENDING.value,
                       payments.c.created_at <= bindparam("cutoff"),
                       payments.c.customer_id.not_in(bindparam("skip", expanding=True)))
                .order_by(payments.c.created_at, payments.c.order_id)
                .limit(bindparam("limit")))
NEW_MESSAGE = insert(outbox).values(event_id=bindparam("event_id"), topic=bindparam("topic"),
                                    key=bindparam("key"), payload=bindparam("payload"),
                                    created_at=bindparam("created_at"),
                                    traceparent=bindparam("traceparent"))
UNPUBLISHED = (select(outbox).where(outbox.c.published_at.is_(None))
               .order_by(outbox.c.id).limit(bindparam("limit")))
MARK_PUBLISHED = (update(outbox)
                  .where(outbox.c.id.in_(bindparam("ids", expanding=True)),
                         outbox.c.published_at.is_(None))
                  .values(published_at=bindparam("published_at")))


@dataclass(frozen=True)
class OutboxMessage:
    """One message waiting in the outbox (or already sent, when `published_at` is set)."""

    id: int
    event_id: str
    topic: str
    key: str
    payload: str
    created_at: datetime
    published_at: datetime | None
    traceparent: str | None = None   # the trace its publication continues


class DuplicatePayment(Exception):
    """The order has a payment already, possibly written by a concurrent transaction."""


class PaymentRepository:
    """Payments keyed by order id, and the outbox of messages about them."""

    def __init__(self, connection: Connection):
        self.connection = connection

    def get(self, order_id: str) -> Payment | None:
        """The order's payment, or None if there is none."""
        row = self.connection.execute(PAYMENT_BY_ORDER, {"order_id": order_id}).mappings().first()
        return _payment(row) if row else None

    def add(self, payment: Payment) -> None:
        """Store a new payment; DuplicatePayment if the order already has one."""
        try:
            self.connection.execute(NEW_PAYMENT, {
                **_columns(payment), "order_id": payment.order_id,
                "payment_id": payment.payment_id, "customer_id": payment.customer_id,
                "amount": payment.amount, "created_at": payment.created_at,
                "updated_at": payment.created_at, "traceparent": payment.traceparent})
        except IntegrityError as error:
            raise DuplicatePayment(payment.order_id) from error

    def replace(self, expected: PaymentStatus, payment: Payment, now: datetime) -> bool:
        """Write `payment`'s new state if the stored status is still `expected`.

        The condition makes racing writers safe: the loser updates no row and learns it here.
        """
        result = self.connection.execute(REPLACE_IF_STATUS, {
            "key_order_id": payment.order_id, "expected": expected.value, **_columns(payment),
            "updated_at": now})
        return result.rowcount == 1

    def pending_requested_before(self, cutoff: datetime, skip_customers: frozenset[str],
                                 limit: int) -> list[Payment]:
        """PENDING payments requested at or before `cutoff`, oldest first, minus skipped ones."""
        rows = self.connection.execute(DUE_PAYMENTS, {
            "cutoff": cutoff, "skip": sorted(skip_customers), "limit": limit}).mappings()
        return [_payment(row) for row in rows]

    def add_message(self, event_id: str, topic: str, key: str, payload: str,
                    now: datetime, traceparent: str | None = None) -> None:
        """Queue a message in the outbox; it is sent once this transaction has committed, in
        the trace `traceparent` names, if any."""
        self.connection.execute(NEW_MESSAGE, {"event_id": event_id, "topic": topic, "key": key,
                                              "payload": payload, "created_at": now,
                                              "traceparent": traceparent})

    def unpublished_messages(self, limit: int) -> list[OutboxMessage]:
        """Messages not yet acknowledged by the broker, oldest first."""
        rows = self.connection.execute(UNPUBLISHED, {"limit": limit}).mappings()
        return [OutboxMessage(**row) for row in rows]

    def all_messages(self) -> list[OutboxMessage]:
        """Every outbox message, oldest first (for inspection and tests)."""
        rows = self.connection.execute(select(outbox).order_by(outbox.c.id)).mappings()
        return [OutboxMessage(**row) for row in rows]

    def mark_published(self, ids: list[int], now: datetime) -> None:
        """Record that the broker acknowledged these messages."""
        if ids:
            self.connection.execute(MARK_PUBLISHED, {"ids": ids, "published_at": now})


def _columns(payment: Payment) -> dict[str, Any]:
    return {"status": payment.status.value, "reason": payment.reason,
            "decided_at": payment.decided_at}


def _payment(row: RowMapping) -> Payment:
    return Payment(
        payment_id=row["payment_id"], order_id=row["order_id"], customer_id=row["customer_id"],
        amount=row["amount"], status=PaymentStatus(row["status"]), reason=row["reason"],
        created_at=row["created_at"], decided_at=row["decided_at"],
        traceparent=row["traceparent"])
