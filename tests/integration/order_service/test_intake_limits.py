"""The order intake's limits: orders per client address and per customer, counted in a real
Redis shared by every process of the service; fair waiting per client address."""

from __future__ import annotations

import json
import logging
import time
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from glastonbury.client_address import trusted_networks
from order_service.adapters.rate_limits import CountedLimits
from order_service.entrypoints.flask_app import create_app
from tests.conftest import SERVICE_TOKENS
from tests.e2e.stack import wait_for
from tests.unit.order_service.fakes import FakeCatalogue, FakeSagaStarter
from tests.unit.order_service.test_order_validation import BRIEF_BODY

RULES = {"address": "3/minute", "customer": "2/minute"}


@pytest.fixture
def make_app(database_url: str) -> Iterator[Any]:
    """Order service apps on one database (several processes of the service), each counting
    orders with the limits it is given."""
    apps: list[Flask] = []

    def make(limits: CountedLimits, proxies: str = "") -> Flask:
        app = create_app(database_url, FakeSagaStarter(), FakeCatalogue(), SERVICE_TOKENS, limits)
        app.config["TRUSTED_PROXIES"] = trusted_networks(proxies.split(","))
        apps.append(app)
        return app

    yield make
    for app in apps:
        app.extensions["order_service"].engine.dispose()


def client_at(app: Flask, address: str) -> FlaskClient:
    client = app.test_client()
    client.environ_base["REMOTE_ADDR"] = address
    return client


def order(client: FlaskClient, customer: str | None = None, **headers: str) -> Any:
    body = BRIEF_BODY | {"customerId": customer or str(uuid.uuid4())}
    return client.post("/orders", json=body, headers=headers)


def a_fresh_redis(redis_url: str) -> str:
    """A database of the session's Redis no other test counts in."""
    import redis

    url = redis_url.rsplit("/", 1)[0] + "/7"
    redis.Redis.from_url(url).flushdb()
    return url


def test_past_its_limit_an_address_is_answered_429_with_retry_after_and_another_is_not(
        make_app: Any, redis_url: str) -> None:
    app = make_app(CountedLimits(a_fresh_redis(redis_url), RULES))
    bot, someone = client_at(app, "198.51.100.7"), client_at(app, "203.0.113.9")
    assert [order(bot).status_code for _ in range(3)] == [202, 202, 202]
    refused = order(bot)
    body = json.loads(refused.data)
    assert refused.status_code == 429 and body["error"] == "rate_limited"
    assert body["details"] == [{"field": "(client address)", "problem": "at most 3 per 1 minute"}]
    assert 1 <= int(refused.headers["Retry-After"]) <= 60
    assert order(someone).status_code == 202


def test_a_customer_past_its_limit_is_refused_from_any_address_naming_the_customer(
        make_app: Any, redis_url: str) -> None:
    app = make_app(CountedLimits(a_fresh_redis(redis_url), RULES))
    customer = str(uuid.uuid4())
    answers = [order(client_at(app, f"198.51.100.{n}"), customer) for n in range(1, 4)]
    assert [answer.status_code for answer in answers] == [202, 202, 429]
    assert json.loads(answers[2].data)["details"][0]["field"] == "customerId"
    assert order(client_at(app, "198.51.100.1")).status_code == 202   # another customer


def test_every_process_of_the_service_counts_in_the_same_redis(
        make_app: Any, redis_url: str) -> None:
    url = a_fresh_redis(redis_url)
    first, second = (client_at(make_app(CountedLimits(url, RULES)), "198.51.100.7")
                     for _ in range(2))
    assert [order(client).status_code for client in (first, second, first, second)] == [
        202, 202, 202, 429]


def test_a_forged_forwarded_for_is_not_believed_unless_it_comes_from_a_trusted_proxy(
        make_app: Any) -> None:
    direct = make_app(CountedLimits("memory://", RULES))
    bot = client_at(direct, "198.51.100.7")
    forged = [order(bot, **{"X-Forwarded-For": f"10.9.9.{n}", "X-Real-Ip": f"10.8.8.{n}"})
              for n in range(4)]
    assert [answer.status_code for answer in forged] == [202, 202, 202, 429]
    behind = make_app(CountedLimits("memory://", RULES), proxies="127.0.0.1")
    proxy = client_at(behind, "127.0.0.1")
    # Our proxy appends the address it saw: each of these is another client.
    relayed = [order(proxy, **{"X-Forwarded-For": f"10.9.9.{n}, 198.51.100.{n}"})
               for n in range(4)]
    assert [answer.status_code for answer in relayed] == [202] * 4


def test_with_redis_unreachable_orders_are_taken_and_it_is_logged(
        make_app: Any, caplog: pytest.LogCaptureFixture) -> None:
    from devtools.devstack.binaries import free_port

    app = make_app(CountedLimits(f"redis://127.0.0.1:{free_port()}/0", RULES))
    bot = client_at(app, "198.51.100.7")
    with caplog.at_level(logging.WARNING):
        assert [order(bot).status_code for _ in range(5)] == [202] * 5
    assert "order limits not counted" in caplog.text


# -- Fair waiting: GET /orders/{id}?wait= ---------------------------------------------------------

def wait_meanwhile(client: FlaskClient, order_id: str, wait_s: float = 20) -> Any:
    from concurrent.futures import ThreadPoolExecutor

    pool = ThreadPoolExecutor(1)
    try:
        return pool.submit(lambda: client.get(f"/orders/{order_id}?wait={wait_s}"))
    finally:
        pool.shutdown(wait=False)


def test_one_address_waits_on_at_most_its_share_and_another_customer_still_waits(
        make_app: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ORDER_WAITING_CLIENTS_PER_ADDRESS", "2")
    app = make_app(CountedLimits("memory://", {}))
    waiters = app.extensions["order_service"].waiters
    hog, someone = client_at(app, "198.51.100.7"), client_at(app, "203.0.113.9")
    orders = [json.loads(order(hog).data)["id"] for _ in range(3)]
    held = [wait_meanwhile(hog, order_id) for order_id in orders[:2]]
    wait_for(lambda: waiters.clients == 2, 10, "the two waits to begin")
    began = time.monotonic()
    third = hog.get(f"/orders/{orders[2]}?wait=20")
    assert third.headers["Retry-After"] == "1" and time.monotonic() - began < 5
    # Refused again and again: told to come back later each time, not all in the same second.
    again = [hog.get(f"/orders/{orders[2]}?wait=20").headers["Retry-After"] for _ in range(7)]
    assert again == ["2", "4", "8", "16", "30", "30", "30"]
    theirs = json.loads(order(someone).data)["id"]
    waiting = wait_meanwhile(someone, theirs)
    wait_for(lambda: waiters.clients == 3, 10, "another customer to wait")
    for order_id in (*orders[:2], theirs):
        client_at(app, "127.0.0.1").post(f"/orders/{order_id}/outcome",
                                         json={"status": "COMPLETED"},
                                         headers={"Authorization": "Bearer test-service-token"})
    assert all(json.loads(f.result(timeout=10).data)["status"] == "COMPLETED"
               for f in (*held, waiting))


def test_sixteen_waits_on_one_order_hold_one_slot_and_the_earlier_are_answered_at_once(
        make_app: Any) -> None:
    app = make_app(CountedLimits("memory://", {}))
    waiters = app.extensions["order_service"].waiters
    hog = client_at(app, "198.51.100.7")
    order_id = json.loads(order(hog).data)["id"]
    answered = []
    for _ in range(16):
        answered.append(wait_meanwhile(hog, order_id))
        wait_for(lambda: waiters.clients == 1 and not _still_two(answered), 10, "one waiter")
    assert waiters.clients == 1
    earlier = [f.result(timeout=10) for f in answered[:-1]]
    assert all(a.headers["Retry-After"] == "1" and json.loads(a.data)["status"] == "PENDING"
               for a in earlier)
    someone = client_at(app, "203.0.113.9")
    theirs = json.loads(order(someone).data)["id"]
    waiting = wait_meanwhile(someone, theirs)
    wait_for(lambda: waiters.clients == 2, 10, "another customer to wait")
    assert not waiting.done()


def _still_two(answered: list[Any]) -> bool:
    """Whether an earlier wait is still being answered (its slot taken, its answer not sent)."""
    return sum(not f.done() for f in answered) > 1
