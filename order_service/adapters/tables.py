"""The order service's tables (SQLAlchemy Core), the same on SQLite and PostgreSQL."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from sqlalchemy import (
    BigInteger,
    Column,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    UniqueConstraint,
    Uuid,
)
from sqlalchemy.types import TypeDecorator

from glastonbury.db import UtcDateTime
from glastonbury.migrate import Schema
from glastonbury.contracts.limits import REASON_MAX_LENGTH
from glastonbury.contracts.money import whole_cents


class Money(TypeDecorator[Decimal]):
    """A Decimal amount stored as whole cents: exact on SQLite too, which has no decimals."""

    impl = BigInteger
    cache_ok = True

    def process_bind_param(self, value: Decimal | None, dialect: Any) -> int | None:
        return None if value is None else int(whole_cents(value) * 100)

    def process_result_value(self, value: int | None, dialect: Any) -> Decimal | None:
        return None if value is None else whole_cents(Decimal(value) / 100)


metadata = MetaData()

orders = Table(
    "orders",
    metadata,
    Column("id", Uuid, primary_key=True),
    Column("customer_id", Uuid, nullable=False),
    Column("amount", Money, nullable=False),
    Column("status", String(20), nullable=False),
    Column("reason", String(REASON_MAX_LENGTH)),
    # A customer's own key (nullable: orders placed without the header never collide); another
    # customer's key of the same spelling is another key.
    Column("idempotency_key", String(255)),
    Column("created_at", UtcDateTime, nullable=False),
    Column("updated_at", UtcDateTime, nullable=False),
    UniqueConstraint("customer_id", "idempotency_key", name="uq_orders_customer_idempotency_key"),
)
# `GET /orders` pages in (created_at, id) order, with or without a status (the reconciler's
# question: which orders are still PENDING since before some time?): each page is read from where
# the one before ended in one of these, whatever the number of orders before it.
Index("ix_orders_status_created_at_id", orders.c.status, orders.c.created_at, orders.c.id)
Index("ix_orders_created_at_id", orders.c.created_at, orders.c.id)

order_lines = Table(
    "order_lines",
    metadata,
    Column("order_id", Uuid, ForeignKey("orders.id"), primary_key=True),
    Column("position", Integer, primary_key=True),
    Column("ticket_id", Uuid, nullable=False),
    Column("name", String(200), nullable=False),
    Column("amount", Money, nullable=False),
    Column("quantity", Integer, nullable=False),
)


# The migrator's (glastonbury.migrate): the tables above and the service's migrations.
SCHEMA = Schema.of_service("order", metadata, __file__)
