"""The stack on real servers, as production points it: every database on the machine's
PostgreSQL (all four in one database, each with its own migration history) and Celery on its
Redis. `make up` with those URLs serves the brief's three paths.

Runs where TEST_DATABASE_URL and TEST_REDIS_URL name servers (CI sets both); Kafka stays the
embedded broker, as this machine has no Kafka server.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis
from sqlalchemy import create_engine, inspect

from glastonbury.migrate import current_revision, head_revision, schema
from glastonbury.topology import DATABASES
from tests.conftest import fresh_postgres_database
from tests.e2e.conftest import DAY_ONE, Client
from tests.e2e.stack import Stack

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.skipif(not (os.environ.get("TEST_DATABASE_URL")
                            and os.environ.get("TEST_REDIS_URL")),
                       reason="TEST_DATABASE_URL and TEST_REDIS_URL name no servers"),
]


@pytest.fixture(scope="module")
def database_url() -> Iterator[str]:
    with fresh_postgres_database() as url:
        yield url


@pytest.fixture(scope="module")
def redis_server() -> Iterator[str]:
    url = os.environ["TEST_REDIS_URL"]
    server = redis.Redis.from_url(url)
    server.flushdb()   # a database of its own (CI names one no one else uses)
    yield url
    server.flushdb()
    server.close()


@pytest.fixture(scope="module")
def real_stack(tmp_path_factory: pytest.TempPathFactory, database_url: str,
               redis_server: str) -> Iterator[Stack]:
    databases = {f"{name.upper()}_DATABASE_URL": database_url for name in DATABASES}
    running = Stack(Path(tmp_path_factory.mktemp("real-stack")), REDIS_URL=redis_server,
                    **databases)
    assert "redis" not in running.parts, "the embedded Redis runs beside the real one"
    running.start()
    try:
        running.wait_until_ready()
        yield running
    finally:
        running.stop()
        print(f"\nreal-servers stack logs kept in {running.logs}")


@pytest.fixture(scope="module")
def client(real_stack: Stack) -> Client:
    return Client(real_stack)


def test_every_database_is_migrated_on_the_real_server(client: Client,
                                                       database_url: str) -> None:
    engine = create_engine(database_url.replace("postgresql://", "postgresql+psycopg://"))
    try:
        tables = set(inspect(engine).get_table_names())
        with engine.connect() as connection:
            revisions = {name: current_revision(connection, schema(name)) for name in DATABASES}
    finally:
        engine.dispose()
    assert {"orders", "tickets", "payments", "sagas"} <= tables
    assert revisions == {name: head_revision(schema(name)) for name in DATABASES}


def test_the_briefs_order_completes(client: Client) -> None:
    before = client.available(DAY_ONE)
    order = client.wait_until_terminal(client.place_order([(DAY_ONE, 200.0, 1)]), timeout_s=60)
    assert order["status"] == "COMPLETED"
    assert client.available(DAY_ONE) == before - 1
    assert client.reservation(order["id"]) == "CONFIRMED"
    assert client.payment(order["id"]) == "APPROVED"


def test_a_declined_payment_is_compensated(client: Client) -> None:
    ticket = client.new_ticket(10, price=400.0)
    order = client.wait_until_terminal(client.place_order([(ticket, 400.0, 3)]), timeout_s=60)
    assert order["status"] == "PAYMENT_FAILED"
    assert client.available(ticket) == 10
    assert client.reservation(order["id"]) == "RELEASED"
    assert client.payment(order["id"]) == "DECLINED"


def test_an_order_beyond_the_stock_is_rejected(client: Client) -> None:
    ticket = client.new_ticket(2)
    order = client.wait_until_terminal(client.place_order([(ticket, 10.0, 3)]), timeout_s=60)
    assert order["status"] == "REJECTED"
    assert client.available(ticket) == 2
    assert client.payment(order["id"]) is None
