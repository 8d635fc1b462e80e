"""Races: 200 customers order at once the last 50 tickets; never oversold, on SQLite and PostgreSQL.

Some of the orders are above the gateway's limit: their tickets are held, then released when the
payment is declined, so the outcome of any one order depends on timing. What never depends on
it: at most 50 sold, stock never below zero, available + held + sold = 50 once settled, every
order terminal, and as many orders COMPLETED as reservations CONFIRMED.
"""

from __future__ import annotations

import os
import threading
import uuid
from collections.abc import Iterator
from contextlib import ExitStack

import pytest
import requests

from tests.chaos.verdict import Snapshot, database_urls, judge
from tests.conftest import fresh_postgres_database
from tests.e2e.stack import Stack, wait_for

pytestmark = pytest.mark.e2e

CUSTOMERS = 200
STOCK = 50
DECLINED_EVERY = 5   # every fifth order is a customer whose card the gateway declines
DECLINED_CUSTOMER = "00000000-0000-4000-8000-00000000dec1"
PRICE = 10.0
RACE_SETTINGS = {
    # A backlog of 200 sagas is no stuck saga, and an undecided payment no lost one here.
    "SAGA_STUCK_AFTER": "15",
    "PAYMENT_RESULT_TIMEOUT": "60",
    "PAYMENT_DECLINE_CUSTOMERS": DECLINED_CUSTOMER,
}
BACKENDS = ["sqlite"] + (["postgresql"] if os.environ.get("TEST_DATABASE_URL") else [])


@pytest.fixture(scope="module", params=BACKENDS)
def race_stack(request: pytest.FixtureRequest,
               tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    with ExitStack() as cleanup:
        urls = {}
        if request.param == "postgresql":
            urls = {f"{service}_DATABASE_URL": cleanup.enter_context(fresh_postgres_database())
                    for service in ("ORDER", "INVENTORY", "PAYMENT", "ORCHESTRATOR")}
        stack = Stack(tmp_path_factory.mktemp(f"race-{request.param}"), **RACE_SETTINGS, **urls)
        cleanup.callback(stack.stop)   # runs before the databases are dropped
        stack.start(*[name for name in stack.parts if name != "flower"])
        stack.wait_until_ready()
        yield stack


def test_two_hundred_concurrent_orders_for_the_last_fifty_tickets_never_oversell(
        race_stack: Stack) -> None:
    ticket = _new_ticket(race_stack, STOCK)
    declined = {n for n in range(CUSTOMERS) if n % DECLINED_EVERY == 0}
    order_ids: dict[int, str] = {}
    start_together = threading.Barrier(CUSTOMERS)

    def customer(n: int) -> None:
        customer = DECLINED_CUSTOMER if n in declined else str(uuid.uuid4())
        body = {"customerId": customer, "amount": PRICE,
                "items": [{"id": ticket, "name": "last-fifty", "amount": PRICE, "quantity": 1}]}
        start_together.wait(timeout=60)
        response = requests.post(f"{race_stack.url('order')}/orders", json=body, timeout=60,
                                 headers={"Idempotency-Key": f"race-{ticket}-{n}"})
        assert response.status_code == 202, response.text
        order_ids[n] = response.json()["id"]

    threads = [threading.Thread(target=customer, args=(n,)) for n in range(CUSTOMERS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert len(order_ids) == CUSTOMERS, "every order was acknowledged"

    urls = database_urls(race_stack.env)
    try:
        snapshot = wait_for(
            lambda: (s := Snapshot.read(urls, [ticket], order_ids.values())).settled() and s,
            150, "every order settled", interval_s=0.5)
    except AssertionError:
        snapshot = Snapshot.read(urls, [ticket], order_ids.values())   # the verdict says why

    verdict = judge(snapshot, {ticket: STOCK}, order_ids.values())
    assert verdict.ok, verdict.summary()
    sold = sum(quantity for order_id, status in snapshot.reservations.items()
               if status == "CONFIRMED" for _, quantity in snapshot.lines[order_id])
    held = sum(quantity for order_id, status in snapshot.reservations.items()
               if status == "HELD" for _, quantity in snapshot.lines[order_id])
    available = snapshot.available[ticket]
    assert 0 < sold <= STOCK
    assert available >= 0
    assert available + sold + held == STOCK
    outcomes = snapshot.outcomes()
    assert outcomes["COMPLETED"] == sum(s == "CONFIRMED" for s in snapshot.reservations.values())
    assert sum(outcomes.values()) == CUSTOMERS
    for n, order_id in order_ids.items():
        status = snapshot.orders[order_id]["status"]
        # Without crashes an order fails only for its own reason: its total, or no stock left.
        assert status in (("PAYMENT_FAILED", "REJECTED") if n in declined
                          else ("COMPLETED", "REJECTED")), (n, status)
    if available > 0:
        # Stock was left, so each rejection met tickets held by orders later declined.
        assert outcomes["PAYMENT_FAILED"] > 0 or outcomes["REJECTED"] == 0


def _new_ticket(stack: Stack, available: int) -> str:
    ticket = str(uuid.uuid4())
    # One customer places every fifth order (declined ones): their limit is raised to the
    # stock, so that only the stock and the payments decide how an order ends.
    response = requests.post(f"{stack.url('inventory')}/tickets", timeout=10,
                             headers={"Authorization": f"Bearer {stack.env['ADMIN_TOKEN']}"},
                             json={"id": ticket, "name": "last-fifty", "available": available,
                                   "price": PRICE, "maxPerCustomer": available})
    assert response.status_code == 201, response.text
    return ticket
