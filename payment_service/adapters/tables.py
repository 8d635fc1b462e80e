"""The payment service's own tables (SQLAlchemy Core), the same on SQLite and PostgreSQL."""

from __future__ import annotations


from sqlalchemy import (
    Column,
    Index,
    Integer,
    MetaData,
    Numeric,
    String,
    Table,
    Text,
)

from glastonbury.db import UtcDateTime
from glastonbury.migrate import Schema

metadata = MetaData()


payments = Table(
    "payments",
    metadata,
    Column("order_id", String(36), primary_key=True),
    Column("payment_id", String(36), nullable=False, unique=True),
    Column("customer_id", String(36), nullable=True),  # null for a cancelled tombstone
    Column("amount", Numeric(14, 2, asdecimal=True), nullable=True),
    Column("status", String(16), nullable=False),
    Column("reason", Text, nullable=True),
    Column("created_at", UtcDateTime, nullable=False),
    Column("decided_at", UtcDateTime, nullable=True),
    Column("updated_at", UtcDateTime, nullable=False),
    # the request's trace (W3C traceparent, glastonbury.tracing), for its result's message
    Column("traceparent", String(55), nullable=True),
    # the relay scans PENDING payments oldest first on every pass
    Index("ix_payments_status_created_at", "status", "created_at"),
)

outbox = Table(
    "payment_outbox",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("event_id", String(36), nullable=False, unique=True),
    Column("topic", String(249), nullable=False),
    Column("key", String(255), nullable=False),
    Column("payload", Text, nullable=False),
    Column("created_at", UtcDateTime, nullable=False),
    Column("published_at", UtcDateTime, nullable=True),
    # the trace the message continues when the relay publishes it (its payment's)
    Column("traceparent", String(55), nullable=True),
    Index("ix_payment_outbox_published_at_id", "published_at", "id"),
)


# The migrator's (glastonbury.migrate): the tables above and the service's migrations.
SCHEMA = Schema.of_service("payment", metadata, __file__)
