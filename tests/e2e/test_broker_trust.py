"""The broker is not trusted with the order: Redis asks for a password, and even a writer who
has it cannot start a saga with lines or a total of their own (measured on the landed main: a
`saga.start` pushed onto an open Redis for a made-up order with a total of 0.00 ended with two
day-one tickets CONFIRMED for nothing)."""

from __future__ import annotations

import uuid

import pytest
import redis
from celery import Celery
from sqlalchemy import create_engine, select

from glastonbury.signing import signed
from orchestrator.adapters.tables import dead_letters
from tests.e2e.conftest import Client
from tests.e2e.stack import Stack, wait_for

pytestmark = pytest.mark.e2e


def test_the_local_redis_refuses_a_client_without_its_password(stack: Stack) -> None:
    with_password = redis.Redis.from_url(stack.env["REDIS_URL"])
    assert with_password.ping()
    port = with_password.connection_pool.connection_kwargs["port"]
    with pytest.raises(redis.AuthenticationError):
        redis.Redis(host="127.0.0.1", port=port).lpush("celery", b"{}")
    with pytest.raises(redis.AuthenticationError):
        redis.Redis(host="127.0.0.1", port=port, password="guessed").ping()


def forged_start(order_id: str, ticket: str, quantity: int, unit_price: str,
                 total: str) -> dict[str, object]:
    return {"version": 1, "orderId": order_id, "customerId": str(uuid.uuid4()), "total": total,
            "items": [{"ticketId": ticket, "name": "forged", "quantity": quantity,
                       "amount": unit_price}]}


def unsigned_starts_refused(stack: Stack) -> int:
    engine = create_engine(f"sqlite:///{stack.env['GLASTONBURY_VAR']}/orchestrator.db")
    try:
        with engine.connect() as connection:
            return connection.execute(select(dead_letters.c.count).where(
                dead_letters.c.kind == "unsigned_order")).scalar() or 0
    finally:
        engine.dispose()


def test_a_start_written_onto_the_broker_by_anyone_but_the_order_service_gets_no_tickets(
        stack: Stack, client: Client) -> None:
    """An insider with the broker's password writes `saga.start` messages as the order service
    would: unsigned, signed with a guessed key, and a real signature over other sums."""
    ticket = client.new_ticket(10, price=200.0)
    made_up = [str(uuid.uuid4()) for _ in range(3)]
    genuine = forged_start(made_up[2], ticket, 2, "200.00", "400.00")
    forgeries = [
        forged_start(made_up[0], ticket, 2, "0.00", "0.00"),
        signed(forged_start(made_up[1], ticket, 2, "0.00", "0.00"), "a guessed key"),
        {**signed(genuine, stack.env["ORDER_MESSAGES_SIGNING_KEY"]), "total": "0.00"},
    ]
    refused_before = unsigned_starts_refused(stack)
    sender = Celery(broker=stack.env["REDIS_URL"], set_as_current=False)
    for message in forgeries:
        sender.send_task("saga.start", args=[message])
    wait_for(lambda: unsigned_starts_refused(stack) == refused_before + 3, 30,
             "the three forged starts refused")
    assert client.available(ticket) == 10
    for order_id in made_up:
        assert client.reservation(order_id) is None
        assert client.saga(order_id) is None
    # The order service's own orders still go through.
    paid = client.place_order([(ticket, 200.0, 1)])
    assert client.wait_until_terminal(paid)["status"] == "COMPLETED"
    assert client.available(ticket) == 9
