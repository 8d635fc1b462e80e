"""The inventory's tables, as SQLAlchemy Core."""

from __future__ import annotations

from sqlalchemy import (
    CheckConstraint,
    Column,
    ForeignKey,
    Integer,
    MetaData,
    Numeric,
    String,
    Table,
    Uuid,
)

# Ticket names and statuses are bounded so the same schema fits SQLite and PostgreSQL alike.
NAME_LENGTH = 200
MAX_AVAILABLE = 2**31 - 1  # PostgreSQL INTEGER
MAX_PRICE = 10**9 - 1       # NUMERIC(12, 2)

metadata = MetaData()

tickets = Table(
    "tickets",
    metadata,
    Column("id", Uuid, primary_key=True),
    Column("name", String(NAME_LENGTH), nullable=False),
    Column("available", Integer, nullable=False),
    # What one ticket costs: the catalogue is the authority on prices. Null: not for sale.
    Column("price", Numeric(12, 2, asdecimal=True), nullable=True),
    # The last line of defence: even a faulty decrement cannot sell a ticket twice.
    CheckConstraint("available >= 0", name="tickets_available_not_negative"),
)

reservations = Table(
    "reservations",
    metadata,
    # One reservation an order: a second reserve of the same order meets this key.
    Column("order_id", Uuid, primary_key=True),
    Column("status", String(16), nullable=False),
    CheckConstraint("status IN ('HELD', 'CONFIRMED', 'RELEASED')", name="reservations_status"),
)

reservation_lines = Table(
    "reservation_lines",
    metadata,
    Column("order_id", Uuid, ForeignKey("reservations.order_id"), primary_key=True),
    Column("ticket_id", Uuid, ForeignKey("tickets.id"), primary_key=True),
    Column("quantity", Integer, nullable=False),
    CheckConstraint("quantity > 0", name="reservation_lines_quantity_positive"),
)
