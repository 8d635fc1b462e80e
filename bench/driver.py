"""Orders through the real stack: place them over HTTP, see them end in the order database.

The end of a saga is the moment the order service stored its outcome (`orders.updated_at`), read
straight from the order service's SQLite file (WAL: a reader never blocks the writers), so how
often the bench looks changes neither the latency nor the rate it reports.
"""

from __future__ import annotations

import sqlite3
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import requests

from bench.floor import percentile

TERMINAL = ("COMPLETED", "REJECTED", "PAYMENT_FAILED")
APPROVED_CUSTOMER = "e081ad0f-f83e-4f81-b2d7-23655ac04b8a"


class OrderDriver:
    """Places orders on one stack and waits for them to end."""

    def __init__(self, order_url: str, inventory_url: str, order_db: Path, clients: int = 8):
        self.order_url, self.inventory_url = order_url, inventory_url
        self.order_db = order_db
        self.clients = clients
        self._local = threading.local()

    def new_ticket(self, available: int) -> str:
        ticket = str(uuid.uuid4())
        response = requests.post(f"{self.inventory_url}/tickets", timeout=10,
                                 json={"id": ticket, "name": "bench", "available": available})
        response.raise_for_status()
        return ticket

    def place(self, ticket: str, customer: str = APPROVED_CUSTOMER) -> tuple[str, float]:
        """One order of one 100.00 ticket (approved by the gateway); its id and when it was sent."""
        session = getattr(self._local, "session", None) or requests.Session()
        self._local.session = session
        body = {"customerId": customer, "amount": 100,
                "items": [{"id": ticket, "name": "bench", "amount": 100, "quantity": 1}]}
        sent = time.time()
        response = session.post(f"{self.order_url}/orders", json=body, timeout=30)
        if response.status_code != 202:
            raise RuntimeError(f"POST /orders answered {response.status_code}: {response.text}")
        return uuid.UUID(response.json()["id"]).hex, sent

    def place_many(self, count: int, ticket: str, customer: str = APPROVED_CUSTOMER
                   ) -> dict[str, float]:
        """`count` orders from `self.clients` threads at once: order id -> when it was sent."""
        with ThreadPoolExecutor(self.clients) as pool:
            placed = list(pool.map(lambda _: self.place(ticket, customer), range(count)))
        return dict(placed)

    def ended(self, since: float) -> dict[str, tuple[str, float]]:
        """Orders created since `since` that ended: id -> (status, when the outcome was stored)."""
        created_after = datetime.fromtimestamp(since - 1, UTC).strftime("%Y-%m-%d %H:%M:%S")
        with sqlite3.connect(f"file:{self.order_db}?mode=ro", uri=True, timeout=30) as db:
            rows = db.execute("SELECT id, status, updated_at FROM orders WHERE status IN "
                              "(?, ?, ?) AND created_at >= ?", (*TERMINAL, created_after))
            return {str(row[0]).replace("-", ""): (row[1], _epoch(row[2])) for row in rows}

    def wait_for(self, sent: dict[str, float], timeout_s: float) -> dict[str, tuple[str, float]]:
        """Poll the order database until every order in `sent` ended or the time is up."""
        since, deadline = min(sent.values()), time.time() + timeout_s
        while True:
            ended = {oid: end for oid, end in self.ended(since).items() if oid in sent}
            if len(ended) == len(sent) or time.time() > deadline:
                return ended
            time.sleep(0.05)

    def run_burst(self, count: int, ticket: str, timeout_s: float = 600) -> dict[str, Any]:
        """All orders at once: completed sagas per second and latency under load."""
        began = time.time()
        sent = self.place_many(count, ticket)
        placed_in = time.time() - began
        ended = self.wait_for(sent, timeout_s)
        return summarise(sent, ended, began) | {"placed_per_s": count / placed_in}

    def run_one_by_one(self, count: int, ticket: str, timeout_s: float = 30) -> dict[str, Any]:
        """Each order waits for the previous to end: the latency of an otherwise idle saga."""
        sent: dict[str, float] = {}
        ended: dict[str, tuple[str, float]] = {}
        for _ in range(count):
            order_id, moment = self.place(ticket)
            sent[order_id] = moment
            ended |= self.wait_for({order_id: moment}, timeout_s)
        return summarise(sent, ended, min(sent.values()))


def summarise(sent: dict[str, float], ended: dict[str, tuple[str, float]],
              began: float) -> dict[str, Any]:
    latencies = sorted((end - sent[oid]) * 1000 for oid, (_, end) in ended.items())
    elapsed = max((end for _, end in ended.values()), default=began) - began
    statuses: dict[str, int] = {}
    for status, _ in ended.values():
        statuses[status] = statuses.get(status, 0) + 1
    return {"orders": len(sent), "ended": len(ended), "statuses": statuses,
            "elapsed_s": round(elapsed, 3),
            "sagas_per_s": len(ended) / elapsed if elapsed > 0 else 0.0,
            "p50_ms": percentile(latencies, 50), "p99_ms": percentile(latencies, 99),
            "max_ms": latencies[-1] if latencies else 0.0}


def _epoch(stored: str) -> float:
    moment = datetime.fromisoformat(stored)
    return moment.replace(tzinfo=moment.tzinfo or UTC).timestamp()
