"""The order API over a real database: place, read, list, record outcomes, idempotency."""

from __future__ import annotations

import json
import time
import uuid
from concurrent.futures import Future, ThreadPoolExecutor
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest
from flask.testing import FlaskClient
from sqlalchemy import event

from order_service.adapters.rate_limits import CountedLimits
from order_service.domain.model import Listing
from order_service.entrypoints.flask_app import create_app
from tests.conftest import SERVICE_TOKENS, trusted
from tests.e2e.stack import wait_for
from tests.unit.order_service.fakes import FakeCatalogue, FakeSagaStarter
from tests.unit.order_service.test_order_validation import BRIEF_BODY


def answer(response: Any) -> tuple[int, Any]:
    return response.status_code, json.loads(response.data)


def place(client: FlaskClient, headers: dict[str, str] | None = None, **changes: Any) -> Any:
    response = client.post("/orders", json=BRIEF_BODY | changes, headers=headers)
    assert response.status_code == 202, response.data
    return json.loads(response.data)


def test_the_briefs_order_is_stored_pending_and_starts_its_saga(
        client: FlaskClient, saga_starter: FakeSagaStarter) -> None:
    response = client.post("/orders", json=BRIEF_BODY)
    order = json.loads(response.data)
    assert response.status_code == 202
    assert response.headers["Location"] == f"/orders/{order['id']}"
    assert order | {"id": None, "createdAt": None, "updatedAt": None} == {
        "id": None, "status": "PENDING", "reason": None,
        "customerId": "e081ad0f-f83e-4f81-b2d7-23655ac04b8a", "amount": 10.5, "total": 200.0,
        "items": [{"id": "3852cb18-9c19-4326-ac77-a1a0264bd98c", "name": "day-one",
                   "amount": 200.0, "quantity": 1}],
        "createdAt": None, "updatedAt": None,
    }
    assert order["createdAt"].endswith("Z")
    assert [m["orderId"] for m in saga_starter.messages] == [order["id"]]
    assert saga_starter.messages[0]["total"] == "200.00"


def test_a_placed_order_reads_back_the_same(client: FlaskClient) -> None:
    order = place(client, amount=1234.56)
    assert answer(client.get(f"/orders/{order['id']}")) == (200, order)


def test_an_unknown_order_is_404_and_a_malformed_id_400(client: FlaskClient) -> None:
    status, body = answer(client.get(f"/orders/{uuid.uuid4()}"))
    assert (status, body["error"]) == (404, "order_not_found")
    status, body = answer(client.get("/orders/42"))
    assert (status, body["error"], body["details"][0]["field"]) == (400, "malformed_id", "orderId")


def test_orders_are_listed_oldest_first_and_filtered(client: FlaskClient) -> None:
    first, second, third = (place(client) for _ in range(3))
    client.post(f"/orders/{second['id']}/outcome", json={"status": "COMPLETED"})
    listed = answer(client.get("/orders"))[1]["orders"]
    assert [o["id"] for o in listed] == [first["id"], second["id"], third["id"]]
    pending = answer(client.get("/orders", query_string={"status": "PENDING", "limit": 1}))
    assert [o["id"] for o in pending[1]["orders"]] == [first["id"]]


def test_created_before_keeps_only_older_orders(client: FlaskClient) -> None:
    old = place(client)
    cutoff = datetime.now(UTC).isoformat()
    place(client)
    listed = answer(client.get("/orders", query_string={"createdBefore": cutoff}))[1]
    assert [o["id"] for o in listed["orders"]] == [old["id"]]


@pytest.mark.parametrize("query", [{"status": "LOST"}, {"limit": "0"}, {"limit": "1001"},
                                   {"limit": "ten"}, {"createdBefore": "yesterday"},
                                   {"after": "nope"}, {"after": "A" * 33},
                                   {"after": "2026-06-24T09:00:00Z"}])
def test_a_bad_list_query_is_a_422_naming_the_parameter(
        client: FlaskClient, query: dict[str, str]) -> None:
    status, body = answer(client.get("/orders", query_string=query))
    assert (status, body["error"]) == (422, "validation_failed")
    assert body["details"][0]["field"] == next(iter(query))


def test_an_outcome_ends_the_order_once(client: FlaskClient) -> None:
    order_id = place(client)["id"]
    outcome = f"/orders/{order_id}/outcome"
    status, body = answer(client.post(outcome, json={"status": "PAYMENT_FAILED",
                                                     "reason": "card declined by the gateway"}))
    assert (status, body["status"], body["reason"]) == (
        200, "PAYMENT_FAILED", "card declined by the gateway")
    assert answer(client.post(outcome, json={"status": "PAYMENT_FAILED"})) == (200, body)
    status, conflict = answer(client.post(outcome, json={"status": "COMPLETED"}))
    assert (status, conflict["error"]) == (409, "conflicting_outcome")
    assert answer(client.get(f"/orders/{order_id}"))[1] == body


def test_of_two_outcomes_arriving_together_exactly_one_wins(client: FlaskClient) -> None:
    outcomes = ["COMPLETED", "PAYMENT_FAILED"] * 4
    for _ in range(5):
        path = f"/orders/{place(client)['id']}/outcome"
        with ThreadPoolExecutor(max_workers=8) as pool:
            answers = list(pool.map(
                lambda status, path=path: answer(client.post(path, json={"status": status})),
                outcomes))
        stored = answer(client.get(path.removesuffix("/outcome")))[1]
        assert stored["status"] in ("COMPLETED", "PAYMENT_FAILED")
        for status, (code, body) in zip(outcomes, answers, strict=True):
            # The winner's status answers 200 every time (a repeat); the loser's 409 every time.
            if status == stored["status"]:
                assert (code, body["status"]) == (200, status)
            else:
                assert (code, body["error"]) == (409, "conflicting_outcome")
        assert len(stored["items"]) == len(BRIEF_BODY["items"])


def test_the_outcome_of_an_unknown_order_is_404(client: FlaskClient) -> None:
    status, body = answer(client.post(f"/orders/{uuid.uuid4()}/outcome",
                                      json={"status": "COMPLETED"}))
    assert (status, body["error"]) == (404, "order_not_found")


def test_the_same_idempotency_key_returns_the_same_order(
        client: FlaskClient, saga_starter: FakeSagaStarter) -> None:
    key = {"Idempotency-Key": str(uuid.uuid4())}
    first, again = place(client, key), place(client, key)
    assert again == first
    assert len(saga_starter.messages) == 1
    assert place(client, {"Idempotency-Key": str(uuid.uuid4())})["id"] != first["id"]


def test_an_idempotency_key_is_its_customers_own(
        client: FlaskClient, saga_starter: FakeSagaStarter) -> None:
    key = {"Idempotency-Key": "checkout-1"}
    mine = place(client, key)
    theirs = place(client, key, customerId=str(uuid.uuid4()))
    assert theirs["id"] != mine["id"], "another customer was answered with my order"
    assert theirs["customerId"] != mine["customerId"]
    assert place(client, key) == mine
    assert len(saga_starter.messages) == 2


def test_a_key_sent_again_with_another_order_is_refused_with_nothing_written(
        client: FlaskClient, saga_starter: FakeSagaStarter) -> None:
    key = {"Idempotency-Key": "checkout-" + uuid.uuid4().hex}
    first = place(client, key)
    other_items = [{**BRIEF_BODY["items"][0], "quantity": 2}]
    status, body = answer(client.post("/orders", json=BRIEF_BODY | {"items": other_items},
                                      headers=key))
    assert (status, body["error"]) == (409, "idempotency_key_reused")
    assert body["details"] == [{"field": "Idempotency-Key", "problem": "names another order"}]
    assert [order["id"] for order in answer(client.get("/orders"))[1]["orders"]] == [first["id"]]
    assert len(saga_starter.messages) == 1


def test_concurrent_requests_with_one_key_make_one_order(
        client: FlaskClient, saga_starter: FakeSagaStarter) -> None:
    key = {"Idempotency-Key": "checkout-" + uuid.uuid4().hex}
    with ThreadPoolExecutor(max_workers=8) as pool:
        orders = list(pool.map(lambda _: place(client, key), range(16)))
    assert len({order["id"] for order in orders}) == 1
    assert len(answer(client.get("/orders"))[1]["orders"]) == 1
    assert len(saga_starter.messages) == 1


def test_every_client_error_has_the_json_error_body(client: FlaskClient) -> None:
    for response in [
        client.post("/orders", data="{", content_type="application/json"),
        client.post("/orders", data="{}", content_type="text/plain"),
        client.post("/orders", json={"items": []}),
        client.post("/orders", data=b"x" * 70_000, content_type="application/json"),
        client.get("/nowhere"), client.delete("/orders"), client.get("/orders//x"),
    ]:
        status, body = answer(response)
        assert 400 <= status < 500 and set(body) == {"error", "message", "details"}


def test_health_and_the_openapi_document_are_served(client: FlaskClient) -> None:
    assert answer(client.get("/healthz")) == (200, {"status": "ok"})
    document = answer(client.get("/openapi.json"))[1]
    assert document["openapi"].startswith("3.1")
    assert set(document["paths"]) == {"/orders", "/orders/{orderId}", "/orders/{orderId}/outcome",
                                      "/healthz", "/openapi.json", "/docs"}


# -- Waiting for an order to end: GET /orders/{id}?wait=<seconds> (a long-poll) -------------------

def _get_meanwhile(client: FlaskClient, path: str) -> Future[tuple[int, Any, Any, float]]:
    """Start `GET path` in a thread; the future of its (status, body, headers, seconds)."""
    def get() -> tuple[int, Any, Any, float]:
        began = time.monotonic()
        response = client.get(path)
        return (response.status_code, json.loads(response.data), response.headers,
                time.monotonic() - began)
    pool = ThreadPoolExecutor(1)
    try:
        return pool.submit(get)
    finally:
        pool.shutdown(wait=False)   # the request goes on; the test waits for its future


def _until_waiting(client: FlaskClient) -> None:
    """Once the request started in the background waits for its order (not before it began)."""
    waiters = client.application.extensions["order_service"].waiters
    wait_for(lambda: waiters.clients == 1, 10, "the client to wait for its order")


def test_a_waiting_client_is_answered_when_the_outcome_is_recorded(client: FlaskClient) -> None:
    order_id = place(client)["id"]
    waiting = _get_meanwhile(client, f"/orders/{order_id}?wait=20")
    _until_waiting(client)
    assert not waiting.done()   # still waiting: the order is PENDING
    client.post(f"/orders/{order_id}/outcome", json={"status": "COMPLETED"})
    status, body, headers, seconds = waiting.result(timeout=15)
    assert (status, body["status"]) == (200, "COMPLETED")
    assert seconds < 10 and "Retry-After" not in headers   # the outcome, not the time, ended it


def test_an_outcome_recorded_by_another_process_of_the_service_ends_the_wait(
        client: FlaskClient, database_url: str) -> None:
    other_process = trusted(create_app(database_url, FakeSagaStarter(), FakeCatalogue(),
                                       SERVICE_TOKENS).test_client())
    order_id = place(client)["id"]
    waiting = _get_meanwhile(client, f"/orders/{order_id}?wait=20")
    _until_waiting(client)
    other_process.post(f"/orders/{order_id}/outcome", json={"status": "REJECTED"})
    status, body, _, seconds = waiting.result(timeout=15)
    assert (status, body["status"]) == (200, "REJECTED") and seconds < 10
    other_process.application.extensions["order_service"].engine.dispose()


def test_a_wait_that_runs_out_answers_the_order_as_it_stands(client: FlaskClient) -> None:
    order_id = place(client)["id"]
    began = time.monotonic()
    response = client.get(f"/orders/{order_id}?wait=0.4")
    assert (response.status_code, json.loads(response.data)["status"]) == (200, "PENDING")
    assert time.monotonic() - began >= 0.4
    assert "Retry-After" not in response.headers   # it waited as long as it was asked


def test_an_ended_or_unknown_order_is_answered_at_once_whatever_the_wait(
        client: FlaskClient) -> None:
    order_id = place(client)["id"]
    client.post(f"/orders/{order_id}/outcome", json={"status": "PAYMENT_FAILED"})
    began = time.monotonic()
    assert answer(client.get(f"/orders/{order_id}?wait=30"))[1]["status"] == "PAYMENT_FAILED"
    status, body = answer(client.get(f"/orders/{uuid.uuid4()}?wait=30"))
    assert (status, body["error"]) == (404, "order_not_found")
    assert time.monotonic() - began < 5


def test_when_too_many_clients_wait_the_service_answers_at_once_and_says_when_to_come_back(
        database_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ORDER_WAITING_CLIENTS", "0")
    app = create_app(database_url, FakeSagaStarter(), FakeCatalogue(), SERVICE_TOKENS)
    client = trusted(app.test_client())
    order_id = place(client)["id"]
    began = time.monotonic()
    response = client.get(f"/orders/{order_id}?wait=30")
    assert (response.status_code, json.loads(response.data)["status"]) == (200, "PENDING")
    assert response.headers["Retry-After"] == "1" and time.monotonic() - began < 5
    app.extensions["order_service"].engine.dispose()


@pytest.mark.parametrize("wait", ["-1", "31", "soon", "nan", "inf", "1e999"])
def test_a_bad_wait_is_a_422_naming_it(client: FlaskClient, wait: str) -> None:
    order_id = place(client)["id"]
    status, body = answer(client.get(f"/orders/{order_id}?wait={wait}"))
    assert status == 422
    assert [detail["field"] for detail in body["details"]] == ["wait"]


# -- what one order may ask, by the catalogue -----------------------------------------------

DAY_ONE = uuid.UUID("3852cb18-9c19-4326-ac77-a1a0264bd98c")


@pytest.fixture
def with_catalogue(database_url: str) -> Any:
    """An app whose catalogue sells day-one at 200.00, at most 6 an order."""
    starter = FakeSagaStarter()
    catalogue = FakeCatalogue({DAY_ONE: Listing("day-one", Decimal("200.00"), 6)})
    app = create_app(database_url, starter, catalogue, SERVICE_TOKENS)
    yield trusted(app.test_client()), starter
    app.extensions["order_service"].engine.dispose()


@pytest.mark.parametrize(("quantities", "asked"), [([968], 968), ([4, 3], 7), ([7], 7)])
def test_an_order_over_a_tickets_limit_per_order_is_a_422_naming_it_and_stores_nothing(
        with_catalogue: Any, quantities: list[int], asked: int) -> None:
    client, starter = with_catalogue
    items = [{"id": str(DAY_ONE), "name": "day-one", "amount": 200.0, "quantity": quantity}
             for quantity in quantities]
    status, body = answer(client.post("/orders", json=BRIEF_BODY | {"items": items}))
    assert (status, body["error"]) == (422, "over_order_limit")
    problem = f"one order may ask at most 6 day-one tickets; this one asks {asked}"
    assert body["details"] == [{"field": "items[0].quantity", "limit": 6, "problem": problem}]
    assert body["message"] == f"items[0].quantity: {problem}"
    assert client.get("/orders").get_json()["orders"] == [] and starter.messages == []


def test_an_order_at_its_tickets_limit_per_order_is_placed(with_catalogue: Any) -> None:
    client, starter = with_catalogue
    items = [{"id": str(DAY_ONE), "name": "day-one", "amount": 200.0, "quantity": 6}]
    assert client.post("/orders", json=BRIEF_BODY | {"items": items}).status_code == 202
    assert len(starter.messages) == 1


# -- Pages: GET /orders in (createdAt, id) order, each page from the `after` cursor of `next` ------

def pages(client: FlaskClient, query: dict[str, Any]) -> list[list[str]]:
    """The ids of each page of `GET /orders`, following `next` (body and `Link`) to the end."""
    found: list[list[str]] = []
    response = client.get("/orders", query_string=query)
    while True:
        status, body = answer(response)
        assert status == 200, body
        found.append([order["id"] for order in body["orders"]])
        link = response.headers.get("Link")
        assert link == (f'<{body["next"]}>; rel="next"' if body["next"] else None)
        if body["next"] is None:
            return found
        assert len(found) < 20, "the pages do not end"
        response = client.get(body["next"])


def test_more_orders_in_one_microsecond_than_a_page_holds_are_each_read_once_in_order(
        client: FlaskClient, monkeypatch: pytest.MonkeyPatch) -> None:
    moment = datetime(2026, 6, 24, 9, 0, 0, 123456, tzinfo=UTC)
    monkeypatch.setattr("order_service.service_layer.services.utc_now", lambda: moment)
    placed = [place(client)["id"] for _ in range(250)]
    read = pages(client, {"status": "PENDING", "limit": 100})
    assert [len(page) for page in read] == [100, 100, 50]
    assert sum(read, []) == sorted(placed, key=uuid.UUID)   # one time: by id, each once


def test_the_next_page_keeps_the_query_and_starts_after_the_last_order(
        client: FlaskClient) -> None:
    first, second, third, fourth = (place(client)["id"] for _ in range(4))
    cutoff = datetime.now(UTC).isoformat()
    place(client)
    client.post(f"/orders/{second}/outcome", json={"status": "COMPLETED"})
    assert pages(client, {"status": "PENDING", "createdBefore": cutoff, "limit": 2}) == [
        [first, third], [fourth]]


def test_a_last_page_that_is_full_has_no_next_link(client: FlaskClient) -> None:
    placed = [place(client)["id"] for _ in range(3)]
    assert pages(client, {"limit": 3}) == [placed]


def test_a_cursor_past_every_order_is_an_empty_page(client: FlaskClient) -> None:
    place(client)
    status, body = answer(client.get("/orders", query_string={"after": "_" * 32}))
    assert (status, body) == (200, {"orders": [], "next": None})


def test_created_after_still_pages_by_time_for_a_release(client: FlaskClient) -> None:
    # Deprecated: inclusive and by time alone, as before the cursor.
    old, new = place(client), place(client)
    listed = answer(client.get("/orders", query_string={"createdAfter": new["createdAt"]}))[1]
    assert [o["id"] for o in listed["orders"]] == [new["id"]]
    assert old["createdAt"] <= new["createdAt"]


@pytest.mark.parametrize(("query", "index"), [
    ({"status": "PENDING"}, "ix_orders_status_created_at_id"),
    ({}, "ix_orders_created_at_id"),
])
def test_a_page_is_read_from_an_index_from_where_the_page_before_ended(
        client: FlaskClient, query: dict[str, str], index: str) -> None:
    engine = client.application.extensions["order_service"].engine
    statements: list[tuple[str, Any]] = []

    def note(_connection: Any, _cursor: Any, statement: str, parameters: Any,
             _context: Any, _many: bool) -> None:
        statements.append((statement, parameters))

    event.listen(engine, "before_cursor_execute", note)
    try:
        assert client.get("/orders", query_string=query | {"after": "A" * 32}).status_code == 200
    finally:
        event.remove(engine, "before_cursor_execute", note)
    [(statement, parameters)] = [(s, p) for s, p in statements if "FROM orders" in s]
    sqlite = engine.dialect.name == "sqlite"
    with engine.connect() as connection:
        if not sqlite:   # a small table is read faster whole: ask how a large one would be
            for plan_of_a_small_table in ("seqscan", "bitmapscan", "sort"):
                connection.exec_driver_sql(f"SET enable_{plan_of_a_small_table} = off")
        plan = connection.exec_driver_sql(
            ("EXPLAIN QUERY PLAN " if sqlite else "EXPLAIN ") + statement, parameters).all()
    assert index in str(plan) and "SORT" not in str(plan).upper(), plan


def test_on_postgresql_an_order_is_placed_with_one_statement_outside_a_transaction(
        postgresql_url: str) -> None:
    # (SQLite takes no INSERT in a WITH clause: there the order is two statements.)
    app = create_app(postgresql_url, FakeSagaStarter(), FakeCatalogue(), SERVICE_TOKENS,
                     CountedLimits("memory://", {}))
    client = trusted(app.test_client())
    engine = app.extensions["order_service"].engine
    sent: list[tuple[str, bool]] = []

    def note(connection: Any, _cursor: Any, statement: str, *_: Any) -> None:
        sent.append((statement, connection.connection.dbapi_connection.autocommit))

    two_lines = [BRIEF_BODY["items"][0], {**BRIEF_BODY["items"][0], "id": str(uuid.uuid4())}]
    event.listen(engine, "before_cursor_execute", note)
    try:
        order = place(client, items=two_lines, amount=BRIEF_BODY["amount"])
        ended = answer(client.post(f"/orders/{order['id']}/outcome",
                                   json={"status": "COMPLETED"}))
    finally:
        event.remove(engine, "before_cursor_execute", note)
    # One statement wrote the order and both its lines, in a transaction of its own (no
    # BEGIN and COMMIT round trips); the outcome is one compare-and-set and a read of its lines.
    [(insert, autocommit)] = sent[:1]
    assert "INSERT INTO orders" in insert and "INSERT INTO order_lines" in insert and autocommit
    assert [statement.split()[0] for statement, _ in sent[1:]] == ["UPDATE", "SELECT"]
    assert all(autocommit for _, autocommit in sent)
    assert ended[0] == 200 and len(ended[1]["items"]) == 2
    assert answer(client.get(f"/orders/{order['id']}"))[1]["items"] == order["items"]
    engine.dispose()   # PostgreSQL drops the database next
