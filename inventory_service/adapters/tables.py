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

from glastonbury.migrate import Schema
from inventory_service.domain.model import DEFAULT_MAX_PER_CUSTOMER, DEFAULT_MAX_PER_ORDER

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
    # What one order may ask, and one customer hold at once across their orders.
    Column("max_per_order", Integer, nullable=False, server_default=str(DEFAULT_MAX_PER_ORDER)),
    Column("max_per_customer", Integer, nullable=False,
           server_default=str(DEFAULT_MAX_PER_CUSTOMER)),
    # The last line of defence: even a faulty decrement cannot sell a ticket twice.
    CheckConstraint("available >= 0", name="tickets_available_not_negative"),
    CheckConstraint("max_per_order >= 1 AND max_per_customer >= 1", name="tickets_limits"),
)

reservations = Table(
    "reservations",
    metadata,
    # One reservation an order: a second reserve of the same order meets this key.
    Column("order_id", Uuid, primary_key=True),
    Column("status", String(16), nullable=False),
    # Whose order it is: what it holds counts against them. Null for a tombstone, and for a
    # reservation made before customers were counted (it never counted against anyone).
    Column("customer_id", Uuid, nullable=True),
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

# What each customer holds of each ticket (HELD and CONFIRMED reservations), kept beside the
# stock and changed in the same transactions: the per-customer limit is checked and counted by
# one conditional upsert, so concurrent orders of one customer cannot together exceed it.
customer_holdings = Table(
    "customer_holdings",
    metadata,
    Column("customer_id", Uuid, primary_key=True),
    Column("ticket_id", Uuid, ForeignKey("tickets.id"), primary_key=True),
    Column("held", Integer, nullable=False),
    CheckConstraint("held >= 0", name="customer_holdings_held_not_negative"),
)


# The migrator's (glastonbury.migrate): the tables above and the service's migrations.
SCHEMA = Schema.of_service("inventory", metadata, __file__)
