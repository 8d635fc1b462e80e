"""Whatever a client sends, the order service answers JSON and never a 5xx."""

from __future__ import annotations

import json
from typing import Any

import pytest
from flask.testing import FlaskClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.unit.order_service.test_order_validation import BRIEF_BODY, ITEM

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=20),
    lambda children: st.lists(children, max_size=4)
    | st.dictionaries(st.text(max_size=10), children, max_size=4),
    max_leaves=20,
)
# Near-valid bodies reach the deeper validators (and the database) far more often.
field_values = json_values | st.decimals(allow_nan=False, allow_infinity=False, places=3)
near_valid_items = st.lists(
    st.fixed_dictionaries({}, optional={key: field_values | st.just(value)
                                        for key, value in ITEM.items()}),
    max_size=3)
near_valid_bodies = st.fixed_dictionaries({}, optional={
    "customerId": field_values | st.just(BRIEF_BODY["customerId"]),
    "amount": field_values | st.just(BRIEF_BODY["amount"]),
    "items": near_valid_items | json_values,
})
bodies = json_values | near_valid_bodies

SETTINGS = settings(max_examples=100, deadline=None,
                    suppress_health_check=[HealthCheck.function_scoped_fixture])


@pytest.fixture(scope="module")
def placed_order_id(client: FlaskClient) -> str:
    return str(client.post("/orders", json=BRIEF_BODY).get_json()["id"])


def assert_json_answer(response: Any) -> None:
    assert response.status_code < 500, response.data
    body = json.loads(response.data)
    if response.status_code >= 400:
        assert set(body) == {"error", "message", "details"}
        assert all(set(detail) == {"field", "problem"} for detail in body["details"])


def as_json(value: Any) -> str:
    return json.dumps(value, default=str)


@SETTINGS
@given(body=bodies)
def test_any_json_body_to_place_an_order_gets_a_json_answer(
        client: FlaskClient, body: Any) -> None:
    response = client.post("/orders", data=as_json(body), content_type="application/json")
    assert_json_answer(response)
    assert response.status_code in (202, 400, 422)


@SETTINGS
@given(body=json_values | st.fixed_dictionaries(
    {"status": st.sampled_from(["COMPLETED", "REJECTED", "PAYMENT_FAILED"]) | json_values},
    optional={"reason": json_values}))
def test_any_json_body_as_an_outcome_gets_a_json_answer(
        client: FlaskClient, placed_order_id: str, body: Any) -> None:
    response = client.post(f"/orders/{placed_order_id}/outcome", data=as_json(body),
                           content_type="application/json")
    assert_json_answer(response)


@SETTINGS
@given(query=st.dictionaries(st.sampled_from(["status", "createdBefore", "limit", "other"]),
                             st.text(max_size=30), max_size=4),
       order_id=st.text(max_size=40))
def test_any_query_or_order_id_gets_a_json_answer(
        client: FlaskClient, query: dict[str, str], order_id: str) -> None:
    assert_json_answer(client.get("/orders", query_string=query))
    assert_json_answer(client.get(f"/orders/{order_id}"))
