"""Orders through the real stack: placed over HTTP, seen ending in the order service's database.

A saga's start is the moment its client sent `POST /orders` (one at a time) or the order
service's own `createdAt` (under load); its end is the order service's `updatedAt`, stored when
the outcome arrived. Both are read from the order database by a slow sweep (every 100 ms), so
how often the bench looks changes neither the rates nor the latencies it reports.

Clients use `http.client` on kept-alive connections: the bench shares the stack's two cores, and
the lighter its clients, the less they take from what is measured.

Each method shows its progress (orders placed, sagas ended) on the driver's `progress`, counted
from what it does anyway: the sweep and the clients look no more often for it.
"""

from __future__ import annotations

import http.client
import json
import threading
import time
import uuid
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

from sqlalchemy import create_engine, select

from bench.floor import percentile
from bench.progress import Progress
from order_service.adapters.tables import orders

TERMINAL = ("COMPLETED", "REJECTED", "PAYMENT_FAILED")
APPROVED_CUSTOMER = "e081ad0f-f83e-4f81-b2d7-23655ac04b8a"
PRICE = 100
SWEEP_S = 0.1


class OrderDriver:
    """Places orders on one stack and watches them end."""

    def __init__(self, order_url: str, inventory_url: str, order_database_url: str,
                 admin_token: str, progress: Progress | None = None):
        self.order_url, self.inventory_url = order_url, inventory_url
        self.progress = progress or Progress.quiet()
        self.admin = {"Authorization": f"Bearer {admin_token}"}
        # Its sweeps read outside a transaction: on PostgreSQL, whose CPU the bench counts as
        # the stack's, no BEGIN and ROLLBACK around each (on SQLite the bench's own process
        # pays for them).
        self.database = create_engine(order_database_url).execution_options(
            isolation_level="AUTOCOMMIT")
        self._local = threading.local()
        self.limits: dict[str, int] = {}   # of the last ticket made, as the inventory has them

    def _connection(self) -> http.client.HTTPConnection:
        """This thread's kept-alive connection to the order service."""
        connection = getattr(self._local, "connection", None)
        if connection is None:
            parts = urlsplit(self.order_url)
            connection = self._local.connection = http.client.HTTPConnection(
                parts.hostname, parts.port, timeout=60)
        return connection

    def new_ticket(self, available: int) -> str:
        """A ticket every order of the bench asks for. Two customers place them all (one the
        gateway approves, one it holds): the limit per customer is raised to the stock, so
        that it never decides an order; each order asks one, within the default per order."""
        ticket = str(uuid.uuid4())
        status, body = _call(self.inventory_url, "POST", "/tickets",
                             {"id": ticket, "name": "bench", "available": available,
                              "price": PRICE, "maxPerCustomer": available}, self.admin)
        assert status == 201, body
        self.limits = {key: body[key] for key in ("maxPerOrder", "maxPerCustomer")}
        return ticket

    def place(self, ticket: str, customer: str = APPROVED_CUSTOMER) -> tuple[str, float]:
        """One order of one ticket at PRICE (approved by the gateway): its id, when it was sent."""
        connection = self._connection()
        body = {"customerId": customer, "amount": PRICE,
                "items": [{"id": ticket, "name": "bench", "amount": PRICE, "quantity": 1}]}
        sent = time.time()
        connection.request("POST", "/orders", json.dumps(body),
                           {"Content-Type": "application/json"})
        response = connection.getresponse()
        answer = response.read()
        if response.status != 202:
            raise RuntimeError(f"POST /orders answered {response.status}: {answer!r}")
        return uuid.UUID(json.loads(answer)["id"]).hex, sent

    def follow(self, order_id: str, wait_s: float | None, poll_s: float) -> int:
        """Read the order as a client does until it ended: every `poll_s` (`wait_s` None), or
        with `GET /orders/{id}?wait=wait_s`, which answers once it ended or the time is up.
        Returns how many reads it took."""
        connection = self._connection()
        path = f"/orders/{uuid.UUID(order_id)}" + ("" if wait_s is None else f"?wait={wait_s:g}")
        reads = 0
        while True:
            connection.request("GET", path)
            response = connection.getresponse()
            answer = response.read()
            reads += 1
            if response.status != 200:
                raise RuntimeError(f"GET {path} answered {response.status}: {answer!r}")
            if json.loads(answer)["status"] in TERMINAL:
                return reads
            if wait_s is None:
                time.sleep(poll_s)

    def place_many(self, count: int, ticket: str, clients: int,
                   customer: str = APPROVED_CUSTOMER) -> dict[str, float]:
        """`count` orders from `clients` threads, each placing its next as soon as the last was
        acknowledged: order id -> when it was sent."""
        with self.progress.phase("orders placed", total=count) as phase, \
                ThreadPoolExecutor(clients) as pool:
            def one(_: int) -> tuple[str, float]:
                placed = self.place(ticket, customer)
                phase.advance()
                return placed

            return dict(pool.map(one, range(count)))

    def ended(self, order_ids: Iterable[str]) -> dict[str, tuple[str, float, float]]:
        """Of these orders, those that ended: id -> (status, createdAt, updatedAt) in epoch s."""
        wanted = [uuid.UUID(order_id) for order_id in order_ids]
        found: dict[str, tuple[str, float, float]] = {}
        with self.database.connect() as connection:
            for chunk in range(0, len(wanted), 500):
                query = (select(orders.c.id, orders.c.status, orders.c.created_at,
                                orders.c.updated_at)
                         .where(orders.c.id.in_(wanted[chunk:chunk + 500]),
                                orders.c.status.in_(TERMINAL)))
                for row in connection.execute(query):
                    found[row.id.hex] = (row.status, _epoch(row.created_at),
                                         _epoch(row.updated_at))
        return found

    def wait_for(self, order_ids: Iterable[str], timeout_s: float
                 ) -> dict[str, tuple[str, float, float]]:
        """Sweep the order database until every order ended or the time is up."""
        waiting, ended = set(order_ids), {}
        deadline = time.time() + timeout_s
        with self.progress.phase("sagas ended", total=len(waiting)) as phase:
            while waiting and time.time() < deadline:
                time.sleep(SWEEP_S)
                newly = self.ended(waiting)
                ended |= newly
                waiting -= set(newly)
                phase.update(done=len(ended))
        return ended

    def one_at_a_time(self, count: int, ticket: str, timeout_s: float = 30) -> dict[str, Any]:
        """Each order placed once the previous one ended: the latency of a saga on a quiet stack,
        from the client's `POST /orders` to the stored outcome."""
        latencies, statuses = [], {}
        with self.progress.phase("sagas ended, one at a time", total=count) as phase:
            for _ in range(count):
                order_id, sent = self.place(ticket)
                deadline = time.time() + timeout_s
                while time.time() < deadline:
                    found = self.ended([order_id])
                    if found:
                        status, _, end = found[order_id]
                        latencies.append((end - sent) * 1000)
                        statuses[status] = statuses.get(status, 0) + 1
                        break
                    time.sleep(0.005)  # one indexed read of one row: no load to speak of
                phase.advance()
        latencies.sort()
        return {"orders": count, "ended": len(latencies), "statuses": statuses,
                "p50_ms": percentile(latencies, 50), "p90_ms": percentile(latencies, 90),
                "p99_ms": percentile(latencies, 99), "max_ms": latencies[-1] if latencies else 0}

    def load(self, count: int, ticket: str, clients: int, timeout_s: float = 600
             ) -> dict[str, Any]:
        """`count` orders from `clients` concurrent clients: completed sagas per second from the
        first order's creation to the last one's completion, and the completion curve."""
        began = time.time()
        sent = self.place_many(count, ticket, clients)
        placed_in = time.time() - began
        ended = self.wait_for(sent, timeout_s)
        return summarise(ended, count) | {"clients": clients,
                                          "placed_per_s": round(count / placed_in, 1)}


    def load_followed(self, count: int, ticket: str, clients: int, wait_s: float | None = None,
                      poll_s: float = 0.01, timeout_s: float = 600) -> dict[str, Any]:
        """`count` orders from `clients` clients that each follow their order to its end before
        placing the next, as a person at a till does: by polling every `poll_s` (`wait_s` None)
        or with the long-poll `?wait=`. Rates and latencies as in `load`, plus reads per order."""
        reads: list[int] = []

        with self.progress.phase("sagas followed to their end", total=count) as phase, \
                ThreadPoolExecutor(clients) as pool:
            def one(_: int) -> str:
                order_id, _sent = self.place(ticket)
                reads.append(self.follow(order_id, wait_s, poll_s))
                phase.advance()
                return order_id

            placed = list(pool.map(one, range(count)))
        ended = self.wait_for(placed, timeout_s)
        return summarise(ended, count) | {
            "clients": clients, "reads_per_order": round(sum(reads) / max(len(reads), 1), 1),
            **({"poll_every_s": poll_s} if wait_s is None else {"wait_s": wait_s})}


def summarise(ended: dict[str, tuple[str, float, float]], count: int,
              buckets_s: float = 0.5) -> dict[str, Any]:
    """Rates, latencies and the curve of completions of a set of orders."""
    if not ended:
        return {"orders": count, "ended": 0}
    first = min(created for _, created, _ in ended.values())
    last = max(end for _, _, end in ended.values())
    elapsed = last - first
    latencies = sorted((end - created) * 1000 for _, created, end in ended.values())
    statuses: dict[str, int] = {}
    for status, _, _ in ended.values():
        statuses[status] = statuses.get(status, 0) + 1
    ends = sorted(end - first for _, _, end in ended.values())
    curve = [0] * (int(ends[-1] // buckets_s) + 1)
    for moment in ends:
        curve[int(moment // buckets_s)] += 1
    created = sorted(created - first for _, created, _ in ended.values())
    return {"orders": count, "ended": len(ended), "statuses": statuses,
            "elapsed_s": round(elapsed, 3),
            "sagas_per_s": round(len(ended) / elapsed, 1) if elapsed > 0 else 0.0,
            "placed_over_s": round(created[-1], 3),
            "first_completed_s": round(ends[0], 3),
            "p50_ms": round(percentile(latencies, 50), 1),
            "p99_ms": round(percentile(latencies, 99), 1),
            "max_ms": round(latencies[-1], 1),
            # completed by each tenth of the run: steady completion is a straight line
            "completed_by_tenth": [sum(1 for moment in ends if moment <= elapsed * k / 10)
                                   for k in range(1, 11)],
            "curve_bucket_s": buckets_s, "completions_per_bucket": curve}


def _call(base: str, method: str, path: str, body: dict[str, Any],
          headers: dict[str, str]) -> tuple[int, Any]:
    parts = urlsplit(base)
    connection = http.client.HTTPConnection(parts.hostname, parts.port, timeout=30)
    try:
        connection.request(method, path, json.dumps(body),
                           {"Content-Type": "application/json", **headers})
        response = connection.getresponse()
        return response.status, json.loads(response.read() or b"null")
    finally:
        connection.close()


def _epoch(moment: datetime) -> float:
    return moment.replace(tzinfo=moment.tzinfo or UTC).timestamp()
