"""The verdict after a chaos or race run, read straight from the four databases.

Modelled on Jepsen's checkers: every order the order service acknowledged must be found and
accounted for, and the three services' own records must tell one story:

- every order is terminal, and so is its saga, with the same status;
- COMPLETED  <=>  the reservation is CONFIRMED and the payment APPROVED (or, with nothing to
  pay, a total of 0.00, no payment at all);
- REJECTED / PAYMENT_FAILED  <=>  no ticket held (reservation RELEASED or none) and no money
  kept (payment absent, DECLINED, CANCELLED or REFUNDED);
- an order's approved payment is for its total (the saga's), once (the payment service keeps
  one payment an order): nobody is charged twice, or more than the order;
- per ticket: available + quantities of HELD and CONFIRMED reservations = the initial stock,
  and available never below zero;
- per customer and ticket: the inventory's count of what they hold = the quantities of their
  HELD and CONFIRMED reservations, and never above the ticket's limit per customer (every
  order of the tickets judged must be among those read).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any
from uuid import UUID

from sqlalchemy import create_engine, select
from sqlalchemy.engine import Engine

from glastonbury.topology import DATABASES
from inventory_service.adapters.tables import (customer_holdings, reservation_lines,
                                               reservations, tickets)
from order_service.adapters.tables import orders
from orchestrator.adapters.tables import sagas
from payment_service.adapters.tables import payments

TERMINAL = {"COMPLETED", "REJECTED", "PAYMENT_FAILED"}
NO_MONEY_KEPT = {None, "DECLINED", "CANCELLED", "REFUNDED"}
NO_TICKET_HELD = {None, "RELEASED"}


def database_urls(env: dict[str, str]) -> dict[str, str]:
    """Each service's database as the stack's parts see it (its own SQLite file by default)."""
    var = Path(env["GLASTONBURY_VAR"])
    urls = {}
    for service in DATABASES:
        url = env.get(f"{service.upper()}_DATABASE_URL") or f"sqlite:///{var / service}.db"
        if url.startswith("postgresql://"):
            url = "postgresql+psycopg://" + url.removeprefix("postgresql://")
        urls[service] = url
    return urls


@dataclass
class Snapshot:
    """What the four databases hold about some orders and tickets, read once."""

    orders: dict[str, dict[str, Any]]          # id -> {status, key}
    sagas: dict[str, dict[str, Any]]           # id -> {state, parked, payment_to_void, total}
    reservations: dict[str, str]               # order id -> status
    lines: dict[str, list[tuple[str, int]]]    # order id -> [(ticket id, quantity)]
    payments: dict[str, str]                   # order id -> status
    available: dict[str, int]                  # ticket id -> available
    customers: dict[str, str] = field(default_factory=dict)    # order id -> its customer
    # (customer id, ticket id) -> held, by the inventory's count; None: not read
    holdings: dict[tuple[str, str], int] | None = None
    per_customer: dict[str, int] = field(default_factory=dict)  # ticket id -> its limit
    charged: dict[str, Decimal] = field(default_factory=dict)   # order id -> amount approved

    @classmethod
    def read(cls, urls: dict[str, str], ticket_ids: Iterable[str] | None = None,
             order_ids: Iterable[str] | None = None) -> Snapshot:
        """Everything (a stack of its own), or only the given orders and tickets (a shared one)."""
        wanted = None if order_ids is None else {str(o) for o in order_ids}
        keep = (lambda order_id: True) if wanted is None else (lambda order_id: order_id in wanted)
        engines = {service: _engine(url) for service, url in urls.items()}
        try:
            with engines["order"].connect() as db:
                order_rows = {str(r.id): {"status": r.status, "key": r.idempotency_key,
                                          "created_at": _epoch(r.created_at),
                                          "updated_at": _epoch(r.updated_at)}
                              for r in db.execute(select(orders.c.id, orders.c.status,
                                                         orders.c.idempotency_key,
                                                         orders.c.created_at,
                                                         orders.c.updated_at))
                              if keep(str(r.id))}
            with engines["orchestrator"].connect() as db:
                saga_rows = {r.order_id: {"state": r.state, "parked": bool(r.parked),
                                          "payment_to_void": bool(r.payment_to_void),
                                          "total": Decimal(r.total), "reason": r.reason}
                             for r in db.execute(select(sagas.c.order_id, sagas.c.state,
                                                        sagas.c.parked, sagas.c.payment_to_void,
                                                        sagas.c.total, sagas.c.reason))
                             if keep(r.order_id)}
            with engines["inventory"].connect() as db:
                rows = [r for r in db.execute(select(reservations.c.order_id, reservations.c.status,
                                                     reservations.c.customer_id))
                        if keep(str(r.order_id))]
                held = {str(r.order_id): r.status for r in rows}
                customers = {str(r.order_id): str(r.customer_id) for r in rows if r.customer_id}
                lines: dict[str, list[tuple[str, int]]] = {}
                for r in db.execute(select(reservation_lines)):
                    if keep(str(r.order_id)):
                        lines.setdefault(str(r.order_id), []).append((str(r.ticket_id), r.quantity))
                query = select(tickets.c.id, tickets.c.available, tickets.c.max_per_customer)
                counts = select(customer_holdings)
                if ticket_ids is not None:
                    wanted_tickets = [UUID(str(t)) for t in ticket_ids]
                    query = query.where(tickets.c.id.in_(wanted_tickets))
                    counts = counts.where(customer_holdings.c.ticket_id.in_(wanted_tickets))
                ticket_rows = list(db.execute(query))
                available = {str(r.id): r.available for r in ticket_rows}
                per_customer = {str(r.id): r.max_per_customer for r in ticket_rows}
                holdings = {(str(r.customer_id), str(r.ticket_id)): r.held
                            for r in db.execute(counts)}
            with engines["payment"].connect() as db:
                rows = [r for r in db.execute(select(payments.c.order_id, payments.c.status,
                                                     payments.c.amount))
                        if keep(r.order_id)]
                paid = {r.order_id: r.status for r in rows}
                charged = {r.order_id: r.amount for r in rows
                           if r.status == "APPROVED" and r.amount is not None}
        finally:
            for engine in engines.values():
                engine.dispose()
        return cls(order_rows, saga_rows, held, lines, paid, available, customers, holdings,
                   per_customer, charged)

    def settled(self) -> bool:
        """Nothing left moving: every order and saga terminal, no payment pending or to void."""
        return (all(o["status"] in TERMINAL for o in self.orders.values())
                and all(s["state"] in TERMINAL and not s["payment_to_void"]
                        for s in self.sagas.values())
                and set(self.sagas) >= set(self.orders)
                and "PENDING" not in self.payments.values()
                and "HELD" not in self.reservations.values())

    def outcomes(self) -> Counter[str]:
        return Counter(o["status"] for o in self.orders.values())


@dataclass
class Verdict:
    problems: list[str] = field(default_factory=list)
    figures: dict[str, Any] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return not self.problems

    def summary(self, at_most: int = 25) -> str:
        more = len(self.problems) - at_most
        return "\n".join(self.problems[:at_most] + ([f"... and {more} more"] if more > 0 else []))


def judge(snapshot: Snapshot, initial_stock: dict[str, int],
          acknowledged: Iterable[str]) -> Verdict:
    """Every invariant of the module's docstring, one sentence per violation."""
    verdict = Verdict()
    problems = verdict.problems
    acknowledged = set(acknowledged)
    for order_id in sorted(acknowledged - set(snapshot.orders)):
        problems.append(f"order {order_id} was acknowledged but the order service lost it")
    for order_id, order in sorted(snapshot.orders.items()):
        problems.extend(_order_problems(snapshot, order_id, order["status"]))
    for order_id in sorted(set(snapshot.reservations) - set(snapshot.orders)):
        if snapshot.reservations[order_id] in ("HELD", "CONFIRMED"):
            problems.append(f"reservation of unknown order {order_id} is "
                            f"{snapshot.reservations[order_id]}")
    for order_id in sorted(set(snapshot.payments) - set(snapshot.orders)):
        if snapshot.payments[order_id] not in NO_MONEY_KEPT:
            problems.append(f"payment of unknown order {order_id} is {snapshot.payments[order_id]}")

    taken: Counter[str] = Counter()
    for order_id, status in snapshot.reservations.items():
        if status in ("HELD", "CONFIRMED"):
            for ticket, quantity in snapshot.lines.get(order_id, []):
                taken[ticket] += quantity
    for ticket, initial in sorted(initial_stock.items()):
        available = snapshot.available.get(ticket)
        if available is None:
            problems.append(f"ticket {ticket} is missing")
            continue
        if available < 0:
            problems.append(f"ticket {ticket} oversold: {available} available")
        if available + taken[ticket] != initial:
            problems.append(f"ticket {ticket}: {available} available + {taken[ticket]} held or "
                            f"sold != {initial} initial stock")

    problems.extend(_holding_problems(snapshot, set(initial_stock)))

    verdict.figures = {
        "orders": len(snapshot.orders),
        "acknowledged": len(acknowledged),
        "found_unacknowledged": len(set(snapshot.orders) - acknowledged),
        "outcomes": dict(snapshot.outcomes()),
        "reservations": dict(Counter(snapshot.reservations.values())),
        "payments": dict(Counter(snapshot.payments.values())),
        "parked_sagas": sum(s["parked"] for s in snapshot.sagas.values()),
        "parked_by_reason": dict(Counter(s.get("reason") or "(no reason)"
                                         for s in snapshot.sagas.values() if s["parked"])),
    }
    return verdict


def _holding_problems(snapshot: Snapshot, judged: set[str]) -> list[str]:
    """What each customer holds of each judged ticket, by the inventory's count and by their
    reservations: the same, and within the ticket's limit."""
    if snapshot.holdings is None:
        return []
    by_reservations: Counter[tuple[str, str]] = Counter()
    for order_id, status in snapshot.reservations.items():
        customer = snapshot.customers.get(order_id)
        if status in ("HELD", "CONFIRMED") and customer:
            for ticket, quantity in snapshot.lines.get(order_id, []):
                if ticket in judged:
                    by_reservations[customer, ticket] += quantity
    problems = []
    counted = {key: held for key, held in snapshot.holdings.items() if key[1] in judged}
    for customer, ticket in sorted(set(counted) | set(by_reservations)):
        held, reserved = counted.get((customer, ticket), 0), by_reservations[customer, ticket]
        if held != reserved:
            problems.append(f"customer {customer} holds {held} of ticket {ticket} by the "
                            f"inventory's count, {reserved} by their reservations")
        limit = snapshot.per_customer.get(ticket)
        if limit is not None and reserved > limit:
            problems.append(f"customer {customer} holds {reserved} of ticket {ticket}, above "
                            f"its limit of {limit}")
    return problems


def _order_problems(snapshot: Snapshot, order_id: str, status: str) -> list[str]:
    saga = snapshot.sagas.get(order_id)
    reservation = snapshot.reservations.get(order_id)
    payment = snapshot.payments.get(order_id)
    where = f"order {order_id} ({status}, reservation {reservation}, payment {payment})"
    problems = []
    if status not in TERMINAL:
        problems.append(f"{where} is not terminal")
    if saga is None:
        problems.append(f"{where} has no saga")
    else:
        if saga["state"] != status:
            problems.append(f"{where}: its saga is {saga['state']}")
        if saga["parked"]:
            problems.append(f"{where}: its saga is parked")
        if saga["payment_to_void"]:
            problems.append(f"{where}: its saga still has a payment to void")
    charged = snapshot.charged.get(order_id)
    if charged is not None and saga is not None and Decimal(charged) != saga["total"]:
        problems.append(f"{where} was charged {charged} for a total of {saga['total']}")
    if payment == "APPROVED" and status not in TERMINAL:
        problems.append(f"{where}: the money was taken but the tickets are not sold")
    if status == "COMPLETED":
        free = saga is not None and saga["total"] == 0 and payment is None
        if reservation != "CONFIRMED" or (payment != "APPROVED" and not free):
            problems.append(f"{where} completed unsold or unpaid")
    elif status in TERMINAL:
        if reservation not in NO_TICKET_HELD:
            problems.append(f"{where} failed but still holds tickets")
        if payment not in NO_MONEY_KEPT:
            problems.append(f"{where} failed but the money was kept")
    return problems


def _epoch(moment: datetime | None) -> float | None:
    """A database's timestamp as seconds since the epoch (a naive one is UTC)."""
    if moment is None:
        return None
    return (moment if moment.tzinfo else moment.replace(tzinfo=UTC)).timestamp()


def _engine(url: str) -> Engine:
    # Plain reads: no write lock on SQLite (the services' engines begin IMMEDIATE).
    if url.startswith("sqlite"):
        return create_engine(url, connect_args={"timeout": 30})
    return create_engine(url)
