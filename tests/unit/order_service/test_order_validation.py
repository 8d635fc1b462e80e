"""Every field of `POST /orders` and `POST /orders/{id}/outcome`, each way it can be wrong."""

from __future__ import annotations

import copy
import json
import time
from decimal import Decimal
from typing import Any

import pytest
from flask.testing import FlaskClient

from glastonbury.web import ApiError, validated
from order_service.entrypoints.schemas import OutcomeBody, PlaceOrderBody

BRIEF_BODY: dict[str, Any] = {
    "customerId": "e081ad0f-f83e-4f81-b2d7-23655ac04b8a",
    "amount": 10.5,
    "items": [{"id": "3852cb18-9c19-4326-ac77-a1a0264bd98c", "name": "day-one",
               "amount": 200.00, "quantity": 1}],
}
ITEM = BRIEF_BODY["items"][0]


def with_field(path: str, value: Any) -> dict[str, Any]:
    """The brief's body with one field (`items[0].quantity`) set, or removed if value is ..."""
    body = copy.deepcopy(BRIEF_BODY)
    *parents, last = path.replace("[0]", ".0").split(".")
    target: Any = body
    for part in parents:
        target = target[int(part)] if part.isdigit() else target[part]
    if value is ...:
        del target[last]
    else:
        target[last] = value
    return body


def problem_fields(model: type, body: dict[str, Any]) -> list[str]:
    with pytest.raises(ApiError) as raised:
        validated(model, body)
    assert raised.value.status == 422
    return [detail["field"] for detail in raised.value.details]


def test_the_briefs_body_is_valid() -> None:
    order = validated(PlaceOrderBody, copy.deepcopy(BRIEF_BODY))
    assert order.amount == Decimal("10.5") and order.items[0].amount == Decimal(200)


def test_unknown_fields_are_ignored() -> None:
    body = with_field("items[0].colour", "red") | {"coupon": "FREE"}
    validated(PlaceOrderBody, body)


@pytest.mark.parametrize(("path", "value"), [
    ("customerId", ...), ("customerId", "not-a-uuid"), ("customerId", 42),
    ("customerId", "e081ad0ff83e4f81b2d723655ac04b8a"),
    ("amount", ...), ("amount", True), ("amount", "10.5"), ("amount", -0.01),
    ("amount", 10.555), ("amount", 1e-7), ("amount", None), ("amount", float("nan")),
    ("amount", float("inf")), ("amount", 1_000_000_000),
    ("items", ...), ("items", []), ("items", [ITEM] * 51), ("items", "day-one"),
    ("items[0].id", ...), ("items[0].id", "3852cb18"),
    ("items[0].name", ...), ("items[0].name", ""), ("items[0].name", "x" * 201),
    ("items[0].name", 7), ("items[0].name", "nul\x00"), ("items[0].name", "half \ud800"),
    ("items[0].amount", ...), ("items[0].amount", False), ("items[0].amount", -1),
    ("items[0].amount", 0.001), ("items[0].amount", "200.00"),
    ("items[0].quantity", ...), ("items[0].quantity", 0), ("items[0].quantity", 10_001),
    ("items[0].quantity", 1.5), ("items[0].quantity", True), ("items[0].quantity", "1"),
])
def test_each_invalid_field_is_named_in_the_details(path: str, value: Any) -> None:
    fields = problem_fields(PlaceOrderBody, with_field(path, value))
    assert fields and all(field.startswith(path) for field in fields)


@pytest.mark.parametrize(("path", "value"), [
    ("amount", 0), ("amount", 999_999_999.99), ("amount", Decimal("1E+2")),
    ("items", [ITEM] * 50), ("items[0].name", "x" * 200), ("items[0].name", "ü 🎪"),
    ("items[0].quantity", 100), ("items[0].quantity", Decimal("2.0")),
    ("items[0].quantity", Decimal("2E+0")),
    ("customerId", "E081AD0F-F83E-4F81-B2D7-23655AC04B8A"),
])
def test_values_at_the_edges_are_accepted(path: str, value: Any) -> None:
    validated(PlaceOrderBody, with_field(path, value))


def test_every_problem_is_reported_at_once() -> None:
    body = {"customerId": "x", "amount": -1, "items": [{"quantity": 0}]}
    fields = problem_fields(PlaceOrderBody, body)
    assert {"customerId", "amount", "items[0].id", "items[0].quantity"} <= set(fields)


@pytest.mark.parametrize("body", [
    {}, {"status": "PENDING"}, {"status": "completed"}, {"status": "COMPLETED", "reason": 5},
    {"status": "REJECTED", "reason": "x" * 501},
])
def test_an_invalid_outcome_is_refused(body: dict[str, Any]) -> None:
    assert problem_fields(OutcomeBody, body)


def post_raw(client: FlaskClient, data: str | bytes, content_type: str = "application/json",
             headers: dict[str, str] | None = None) -> tuple[int, dict[str, Any]]:
    response = client.post("/orders", data=data, content_type=content_type, headers=headers)
    return response.status_code, json.loads(response.data)


@pytest.mark.parametrize("number", ["NaN", "Infinity", "-Infinity"])
def test_nan_and_infinity_are_not_json(client: FlaskClient, number: str) -> None:
    status, body = post_raw(client, json.dumps(BRIEF_BODY).replace("10.5", number))
    assert (status, body["error"]) == (400, "malformed_json")


def test_decimals_are_judged_on_the_digits_sent(client: FlaskClient) -> None:
    text = json.dumps(BRIEF_BODY).replace("10.5", "10.50000000000000001")
    status, body = post_raw(client, text)
    assert status == 422 and body["details"][0]["field"] == "amount"


@pytest.mark.parametrize("quantity", ["1e9999999", "-1e9999999", "1e999999999"])
def test_a_quantity_of_millions_of_digits_is_refused_at_once(
        client: FlaskClient, quantity: str) -> None:
    # A dozen bytes that pydantic took seconds of CPU to make into an int before refusing it.
    began = time.monotonic()
    text = json.dumps(BRIEF_BODY).replace('"quantity": 1', f'"quantity": {quantity}')
    status, body = post_raw(client, text)
    assert time.monotonic() - began < 1
    assert status == 422, body
    assert body["details"][0]["field"] == "items[0].quantity"


@pytest.mark.parametrize(("data", "content_type", "status", "code"), [
    ("{", "application/json", 400, "malformed_json"),
    (b"\xff\xfe", "application/json", 400, "malformed_json"),
    ("[" * 50_000 + "]" * 50_000, "application/json", 413, "request_entity_too_large"),
    ("[" * 20_000 + "]" * 20_000, "application/json", 400, "malformed_json"),
    (json.dumps(BRIEF_BODY), "text/plain", 415, "unsupported_media_type"),
    ("[1, 2]", "application/json", 422, "validation_failed"),
])
def test_a_body_that_is_not_a_json_object_is_refused(
        client: FlaskClient, data: str, content_type: str, status: int, code: str) -> None:
    assert post_raw(client, data, content_type)[0] == status
    assert post_raw(client, data, content_type)[1]["error"] == code


def test_a_body_nested_deeper_than_any_order_is_refused_on_every_python(
        client: FlaskClient) -> None:
    # 33 levels overflow no parser: the limit, not the parser, refuses it (3.13's parses 6,000).
    status, body = post_raw(client, '{"items": ' + "[" * 32 + "]" * 32 + "}")
    assert (status, body["error"]) == (400, "malformed_json")
    assert "deeper than 32 levels" in body["message"]
    status, body = post_raw(client, '{"a":' * 6000 + "1" + "}" * 6000)
    assert (status, body["error"]) == (400, "malformed_json")


@pytest.mark.parametrize("key", ["", "x" * 256, "with space", "ключ"])
def test_a_malformed_idempotency_key_is_refused(client: FlaskClient, key: str) -> None:
    status, body = post_raw(client, json.dumps(BRIEF_BODY), headers={"Idempotency-Key": key})
    assert status == 422 and body["details"][0]["field"] == "Idempotency-Key"


def test_an_order_whose_total_no_payment_can_be_is_refused_naming_its_total(
        client: FlaskClient) -> None:
    lines = [{"id": f"3852cb18-9c19-4326-ac77-a1a0264bd9{n:02d}", "name": "box",
              "amount": 999999999.99, "quantity": 10000} for n in range(2)]   # 2e13 in all
    response = client.post("/orders", json=BRIEF_BODY | {"items": lines})
    assert response.status_code == 422
    body = response.get_json()
    assert body["details"] == [{"field": "items", "problem": (
        "the order's total 19999999999800.00 is above 999999999999.99, the most one payment "
        "can be")}]
    just_payable = [{"id": ITEM["id"], "name": "box", "amount": 99999999.99, "quantity": 10000}]
    assert client.post("/orders", json=BRIEF_BODY | {"items": just_payable}).status_code == 202
