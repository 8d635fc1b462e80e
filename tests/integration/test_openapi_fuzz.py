"""Each service against its own published OpenAPI document, and against hostile bodies.

Schemathesis generates requests from each service's `/openapi.json`, both fitting the schema
(positive) and breaking it (negative), and sends them in-process over WSGI. Whatever it sends,
a service never answers 5xx, every 4xx is a JSON `Error`, and every answer is one the document
promises. The hand-written hostile bodies cover what a generator rarely tries; they run on
SQLite and, when `TEST_DATABASE_URL` is set, on PostgreSQL (which refuses NUL in text).
"""

from __future__ import annotations

import json
from decimal import Decimal
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from flask import Flask
from flask.testing import FlaskClient
from hypothesis import HealthCheck, settings
from schemathesis import GenerationMode
from schemathesis.config._auth import AuthConfig
from schemathesis.specs.openapi.checks import ignored_auth

from inventory_service.entrypoints import flask_app as inventory_flask_app
from inventory_service.entrypoints import openapi as inventory_openapi
from glastonbury.contracts.money import PAYMENT_AMOUNT_MAX
from order_service.entrypoints import flask_app as order_flask_app
from order_service.entrypoints import openapi as order_openapi
from payment_service.entrypoints import flask_app as payment_flask_app
from payment_service.entrypoints import openapi as payment_openapi
from tests.conftest import SERVICE_TOKEN, SERVICE_TOKENS, trusted
from tests.unit.order_service.fakes import FakeCatalogue, FakeSagaStarter

EXAMPLES_PER_OPERATION = 50
FUZZ_SETTINGS = settings(max_examples=EXAMPLES_PER_OPERATION, deadline=None, derandomize=True,
                         suppress_health_check=list(HealthCheck))
DAY_ONE = "3852cb18-9c19-4326-ac77-a1a0264bd98c"
ERROR_FIELDS = {"error", "message", "details"}


def _order_app(database_url: str) -> Flask:
    return order_flask_app.create_app(database_url, FakeSagaStarter(), FakeCatalogue(),
                                      SERVICE_TOKENS)


APP_FACTORIES: dict[str, Callable[[str], Flask]] = {
    "order": _order_app,
    "inventory": lambda url: inventory_flask_app.create_app(url, SERVICE_TOKENS),
    "payment": lambda url: payment_flask_app.create_app(url, SERVICE_TOKENS),
}
# Generated from each service's routes and models (glastonbury.openapi).
DOCUMENTS = {"order": order_openapi.API.document(order_flask_app.routes),
             "inventory": inventory_openapi.API.document(inventory_flask_app.api),
             "payment": payment_openapi.API.document(payment_flask_app.api)}


@contextmanager
def service_app(service: str, database_url: str) -> Iterator[Flask]:
    """The service's app on `database_url`, its engine disposed of afterwards."""
    app = APP_FACTORIES[service](database_url)
    try:
        yield app
    finally:
        for extension in app.extensions.values():
            engine = getattr(extension, "engine", extension)
            if hasattr(engine, "dispose"):
                engine.dispose()


def _schema(document: dict[str, Any]) -> Any:
    # Built from the document each service publishes (the first test checks they are the same)
    # rather than fetched from an app: schemathesis' lazy `from_fixture` loader fails under
    # pytest 9.2 (it sets `node._nodeid`), and an eager schema must exist before any database.
    # A copy as the wire carries it, so that schemathesis cannot touch the service's dicts.
    schema = schemathesis.openapi.from_dict(json.loads(json.dumps(document)))
    schema.config.generation.update(modes=[GenerationMode.POSITIVE, GenerationMode.NEGATIVE],
                                    max_examples=EXAMPLES_PER_OPERATION)
    # The service credential for every secured operation (the documents' scheme of each caller,
    # one token for both here); a negative case may leave it out, and must then get a 401.
    schema.config.auth = AuthConfig(openapi={caller: {"bearer": SERVICE_TOKEN}
                                             for caller in SERVICE_TOKENS})
    return schema


SCHEMAS = {service: _schema(document) for service, document in DOCUMENTS.items()}


def _sqlite_app(service: str, tmp_path: Path) -> Iterator[Flask]:
    with service_app(service, f"sqlite:///{tmp_path / f'{service}.db'}") as app:
        yield app


@pytest.fixture
def order_app(tmp_path: Path) -> Iterator[Flask]:
    yield from _sqlite_app("order", tmp_path)


@pytest.fixture
def inventory_app(tmp_path: Path) -> Iterator[Flask]:
    yield from _sqlite_app("inventory", tmp_path)


@pytest.fixture
def payment_app(tmp_path: Path) -> Iterator[Flask]:
    yield from _sqlite_app("payment", tmp_path)


@pytest.mark.parametrize("service", sorted(DOCUMENTS))
def test_each_service_publishes_the_document_its_fuzzing_is_generated_from(
        service: str, tmp_path: Path) -> None:
    for app in _sqlite_app(service, tmp_path):
        published = json.loads(app.test_client().get("/openapi.json").data)
        assert published == json.loads(json.dumps(DOCUMENTS[service]))


def error_body_is_json(ctx: Any, response: Any, case: Any) -> bool | None:
    """A schemathesis check: no 5xx ever, and a 4xx carries a JSON `Error` body."""
    assert response.status_code < 500, f"{response.status_code}: {response.text[:500]}"
    if response.status_code >= 400:
        assert_error_body(json.loads(response.text))
    return None


def assert_error_body(body: Any) -> None:
    assert isinstance(body, dict) and set(body) == ERROR_FIELDS, body
    assert isinstance(body["error"], str) and isinstance(body["message"], str), body
    assert all({"field", "problem"} <= set(detail) for detail in body["details"]), body


def payable(body: Any) -> Any:
    """An order whose total one payment can be: each line's quantity 1 if the lines' total is
    above PAYMENT_AMOUNT_MAX (then at most 50 x 999999999.99).

    JSON Schema cannot say that the lines' total has a maximum; the document says it in words
    and the service refuses such an order (test_order_validation)."""
    if not isinstance(body, dict) or not isinstance(body.get("items"), list):
        return body
    lines = [line for line in body["items"] if isinstance(line, dict)]
    total = sum(Decimal(str(line.get("amount", 0))) * Decimal(str(line.get("quantity", 0)))
                for line in lines)
    if total <= PAYMENT_AMOUNT_MAX:
        return body
    return body | {"items": [line | {"quantity": 1} for line in lines]}


def _call_and_validate(case: Any, app: Flask) -> None:
    # (`ignored_auth` re-sends over HTTP, which an in-process app has not; the tests of each
    # service check that every secured call answers 401 without its credential.)
    case.call_and_validate(app=app, additional_checks=[error_body_is_json],
                           excluded_checks=[ignored_auth])


@FUZZ_SETTINGS
@SCHEMAS["order"].parametrize()
def test_the_order_service_keeps_every_promise_of_its_openapi_document(
        case: Any, order_app: Flask) -> None:
    if case.meta.generation.mode is GenerationMode.POSITIVE and case.method == "POST" \
            and case.path == "/orders":
        case.body = payable(case.body)
    _call_and_validate(case, order_app)


@FUZZ_SETTINGS
@SCHEMAS["inventory"].parametrize()
def test_the_inventory_service_keeps_every_promise_of_its_openapi_document(
        case: Any, inventory_app: Flask) -> None:
    _call_and_validate(case, inventory_app)


@FUZZ_SETTINGS
@SCHEMAS["payment"].parametrize()
def test_the_payment_service_keeps_every_promise_of_its_openapi_document(
        case: Any, payment_app: Flask) -> None:
    _call_and_validate(case, payment_app)


# --- Hand-written hostile bodies -----------------------------------------------------------

ORDER_ID = str(uuid.uuid4())
VALID_BODIES: dict[str, list[tuple[str, str, dict[str, Any]]]] = {
    "order": [
        ("POST", "/orders", {
            "customerId": "e081ad0f-f83e-4f81-b2d7-23655ac04b8a", "amount": 10.5,
            "items": [{"id": DAY_ONE, "name": "day-one", "amount": 200.00, "quantity": 1}]}),
        ("POST", f"/orders/{ORDER_ID}/outcome", {"status": "REJECTED", "reason": "sold out"}),
    ],
    "inventory": [
        ("POST", "/tickets", {"name": "day-two", "available": 10, "price": 80.50}),
        ("PUT", f"/tickets/{DAY_ONE}/limits", {"maxPerOrder": 6, "maxPerCustomer": 6}),
        ("PUT", f"/reservations/{ORDER_ID}", {"customerId": str(uuid.uuid4()), "items": [
            {"ticketId": DAY_ONE, "quantity": 1, "unitPrice": 200.0}]}),
    ],
    "payment": [
        ("POST", "/payments", {"orderId": ORDER_ID, "customerId": str(uuid.uuid4()),
                               "amount": 200.0}),
    ],
}
NESTING = 30_000  # brackets: deep enough to overflow any recursive parser, under 64 KiB
HOSTILE_RAW_BODIES: dict[str, tuple[bytes, set[int]]] = {
    "over 64 KiB": (json.dumps({"pad": "x" * 70_000}).encode(), {413}),
    "nested arrays": (b"[" * NESTING + b"]" * NESTING, {400}),
    "nested objects": (b'{"a":' * (NESTING // 5) + b"1" + b"}" * (NESTING // 5), {400}),
    "truncated JSON": (b'{"name": "x', {400}),
    "not UTF-8": (b'{"name": "\xff\xfe"}', {400}),
    "empty": (b"", {400}),
    "NaN": (b'{"amount": NaN, "available": NaN, "quantity": NaN, "status": NaN}', {400, 422}),
    "Infinity": (b'{"amount": -Infinity, "available": Infinity}', {400, 422}),
    "a huge float": (b'{"amount": 1e400, "available": 1e400, "name": "x"}', {422}),
    "a 5000-digit integer": (b'{"amount": %s, "available": %s}' % (b"9" * 5000, b"9" * 5000),
                             {400, 422}),
    "null": (b"null", {422}),
    "an array": (b"[1, 2]", {422}),
    "a string": (b'"tickets"', {422}),
}
NULLABLE_FIELDS = {"reason"}
WRONG_CONTENT_TYPES = ["text/plain", "application/x-www-form-urlencoded", "application/xml", ""]


def wrong_values(valid: Any) -> list[Any]:
    """JSON values of another type than `valid` (bool counts apart from numbers)."""
    candidates = [None, True, 7, 2.5, "7", [], {}, [valid], {"value": valid}]
    return [value for value in candidates
            if type(value) is not type(valid)
            and not (isinstance(valid, float) and type(value) is int)]


def field_paths(body: dict[str, Any], prefix: str = "") -> Iterator[tuple[str, list, Any]]:
    """(`items[0].quantity`, the keys to reach it, its value) for every leaf field."""
    for key, value in body.items():
        path = f"{prefix}.{key}" if prefix else key
        if isinstance(value, list) and value and isinstance(value[0], dict):
            for inner, keys, leaf in field_paths(value[0], f"{path}[0]"):
                yield inner, [key, 0, *keys], leaf
        yield path, [key], value


def replaced(body: Any, keys: list, value: Any) -> Any:
    """A deep copy of `body` with the value at `keys` replaced."""
    copy = json.loads(json.dumps(body))
    target = copy
    for key in keys[:-1]:
        target = target[key]
    target[keys[-1]] = value
    return copy


def answer(client: FlaskClient, method: str, path: str, data: bytes,
           content_type: str = "application/json") -> tuple[int, Any]:
    response = client.open(path, method=method, data=data, content_type=content_type or None)
    return response.status_code, json.loads(response.data)


def hostile_requests(service: str) -> Iterator[tuple[str, str, str, bytes, str, set[int]]]:
    """(what, method, path, body, content type, the statuses allowed) for each hostile request."""
    for method, path, body in VALID_BODIES[service]:
        for what, (raw, statuses) in HOSTILE_RAW_BODIES.items():
            yield what, method, path, raw, "application/json", statuses
        for content_type in WRONG_CONTENT_TYPES:
            yield f"sent as {content_type!r}", method, path, json.dumps(body).encode(), \
                content_type, {415}
        for field, keys, value in field_paths(body):
            for wrong in wrong_values(value):
                if wrong is None and field in NULLABLE_FIELDS:
                    continue
                yield (f"{field} = {json.dumps(wrong)}", method, path,
                       json.dumps(replaced(body, keys, wrong)).encode(), "application/json",
                       {422})
            if isinstance(value, str):
                for text in ("nul \u0000 inside", "half a surrogate \ud800"):
                    yield (f"{field} = {text!r}", method, path,
                           json.dumps(replaced(body, keys, text)).encode(),
                           "application/json", {422})


@pytest.mark.parametrize("service", sorted(VALID_BODIES))
def test_hostile_bodies_are_refused_with_a_json_4xx_and_leave_nothing_behind(
        service: str, database_url: str) -> None:
    with service_app(service, database_url) as app:
        client = trusted(app.test_client())
        wrong = []
        for what, method, path, raw, content_type, statuses in hostile_requests(service):
            status, body = answer(client, method, path, raw, content_type)
            if status not in statuses or set(body) != ERROR_FIELDS:
                wrong.append(f"{method} {path} with {what}: {status} {body}")
        assert wrong == []
        assert_nothing_was_stored(service, client)


def assert_nothing_was_stored(service: str, client: FlaskClient) -> None:
    if service == "order":
        assert client.get("/orders").get_json()["orders"] == []
    elif service == "inventory":
        assert [t["name"] for t in client.get("/tickets").get_json()["tickets"]] == ["day-one"]
        assert client.get(f"/tickets/{DAY_ONE}").get_json()["available"] == 1000
    else:
        assert client.get(f"/payments/{ORDER_ID}").status_code == 404


@pytest.mark.parametrize("moment", ["0.5", "1750000000", "2025-06-25", "yesterday",
                                    "2025-13-01T00:00:00Z", "２０２５-06-25T10:00:00Z",
                                    "0000-12-31T23:00:00Z", "10000-01-01T00:00:00Z"])
def test_a_created_before_that_is_no_iso_8601_moment_within_years_1_to_9999_is_a_422(
        moment: str, order_app: Flask) -> None:
    response = trusted(order_app.test_client()).get("/orders",
                                                    query_string={"createdBefore": moment})
    assert response.status_code == 422
    assert response.get_json()["details"][0]["field"] == "createdBefore"


@pytest.mark.parametrize(("bound", "moment", "orders"), [
    ("createdBefore", "0001-01-01T00:00:00+01:00", 0),
    ("createdBefore", "9999-12-31T23:59:59-01:00", 1),
    ("createdAfter", "0001-01-01T00:00:00+01:00", 1),
    ("createdAfter", "9999-12-31T23:59:59-01:00", 0),
])
def test_a_real_date_time_whose_utc_is_beyond_years_1_to_9999_bounds_the_list_at_that_end(
        bound: str, moment: str, orders: int, order_app: Flask) -> None:
    # RFC 3339 times the document's `date-time` allows: no database keeps their UTC, but as a
    # bound they mean the nearer end of time.
    client = trusted(order_app.test_client())
    assert client.post("/orders", json=VALID_BODIES["order"][0][2]).status_code == 202
    response = client.get("/orders", query_string={bound: moment})
    assert response.status_code == 200, response.get_json()
    assert len(response.get_json()["orders"]) == orders


@pytest.mark.parametrize(("service", "path", "body", "read_back"), [
    ("order", "/orders", {**VALID_BODIES["order"][0][2], "items": [
        {"id": DAY_ONE, "name": "🎪 Pyramid Stage — Ünïcødé 東京", "amount": 1, "quantity": 1}]},
     lambda created: created["items"][0]["name"]),
    ("inventory", "/tickets", {"name": "🎪 Pyramid Stage — Ünïcødé 東京", "available": 1,
                               "price": 1},
     lambda created: created["name"]),
])
def test_unicode_text_is_stored_and_read_back_unchanged(
        service: str, path: str, body: dict[str, Any], read_back: Callable[[Any], str],
        database_url: str) -> None:
    with service_app(service, database_url) as app:
        client = trusted(app.test_client())
        response = client.post(path, json=body)
        assert response.status_code in (201, 202), response.get_json()
        stored = client.get(response.headers["Location"]).get_json()
        assert read_back(stored) == "🎪 Pyramid Stage — Ünïcødé 東京"
