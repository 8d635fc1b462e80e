"""The real CelerySagaStarter: `saga.start` lands in Redis; a dead Redis does not fail orders."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator

import pytest
from flask.testing import FlaskClient
from kombu import Connection

from devtools.devstack import binaries
from glastonbury.signing import is_signed
from order_service.adapters.saga_starter import CelerySagaStarter
from order_service.entrypoints.flask_app import create_app
from tests.unit.order_service.test_order_validation import BRIEF_BODY

# A database of our own on the session's Redis, so that no other test's worker takes our message.
REDIS_DATABASE = 11
KEY = "the order messages' key"


@pytest.fixture
def broker_url(redis_url: str) -> str:
    return redis_url.rsplit("/", 1)[0] + f"/{REDIS_DATABASE}"


@pytest.fixture
def client_with_celery(database_url: str, broker_url: str) -> Iterator[FlaskClient]:
    app = create_app(database_url, CelerySagaStarter(broker_url, KEY))
    yield app.test_client()
    app.extensions["order_service"].engine.dispose()


def start_saga_messages(broker_url: str, deadline_s: float = 10) -> Iterator[tuple[dict, list]]:
    """(headers, [args, kwargs, embed]) of each message on the 'celery' queue, until a pause."""
    with Connection(broker_url) as connection:
        queue = connection.SimpleQueue("celery")
        try:
            give_up_at = time.monotonic() + deadline_s
            while time.monotonic() < give_up_at:
                try:
                    message = queue.get(timeout=0.5)
                except queue.Empty:
                    continue
                message.ack()
                yield message.headers, message.decode()
        finally:
            queue.close()


def saga_start_call(broker_url: str, order_id: str) -> tuple[list, dict, dict]:
    """The (args, kwargs, embed) of the `saga.start` message about this order."""
    for headers, (args, kwargs, embed) in start_saga_messages(broker_url):
        if headers["task"] == "saga.start" and args and args[0].get("orderId") == order_id:
            return args, kwargs, embed
    raise AssertionError(f"no saga.start message for order {order_id}")


def test_placing_an_order_sends_saga_start_with_the_order_message(
        client_with_celery: FlaskClient, broker_url: str) -> None:
    response = client_with_celery.post("/orders", json=BRIEF_BODY)
    order = json.loads(response.data)
    assert response.status_code == 202
    (message,), kwargs, embed = saga_start_call(broker_url, order["id"])
    # Sent with the orchestrator's error callback, as its every chain: one way to give up.
    assert [errback["task"] for errback in embed["errbacks"]] == ["saga.on_step_failed"]
    assert is_signed(message, KEY) and not is_signed(message, "another key")
    del message["signature"]
    assert ([message], kwargs) == ([{
        "version": 1,
        "orderId": order["id"],
        "customerId": BRIEF_BODY["customerId"],
        "total": "200.00",
        "items": [{"ticketId": "3852cb18-9c19-4326-ac77-a1a0264bd98c", "name": "day-one",
                   "quantity": 1, "amount": "200.00"}],
    }], {})


def test_with_redis_down_the_order_is_still_accepted_and_stays_pending(
        database_url: str) -> None:
    closed_port = binaries.free_port()
    app = create_app(database_url, CelerySagaStarter(f"redis://127.0.0.1:{closed_port}/0", KEY))
    client = app.test_client()
    started = time.monotonic()
    response = client.post("/orders", json=BRIEF_BODY)
    assert response.status_code == 202
    assert time.monotonic() - started < 5
    order_id = json.loads(response.data)["id"]
    assert json.loads(client.get(f"/orders/{order_id}").data)["status"] == "PENDING"
    app.extensions["order_service"].engine.dispose()
