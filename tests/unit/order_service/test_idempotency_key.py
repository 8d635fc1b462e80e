"""`POST /orders` retried with its `Idempotency-Key`, over HTTP: the same order, or a clear 409."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from flask.testing import FlaskClient

from tests.unit.order_service.fakes import FakeSagaStarter
from tests.unit.order_service.test_order_validation import BRIEF_BODY, with_field


def test_a_retry_with_the_same_key_answers_202_with_the_same_order_and_starts_one_saga(
        client: FlaskClient, saga_starter: FakeSagaStarter) -> None:
    key = {"Idempotency-Key": str(uuid.uuid4())}
    sagas = len(saga_starter.messages)
    first = client.post("/orders", json=BRIEF_BODY, headers=key)
    again = client.post("/orders", json=BRIEF_BODY, headers=key)
    assert (first.status_code, again.status_code) == (202, 202)
    assert again.get_json() == first.get_json()
    assert again.headers["Location"] == first.headers["Location"]
    assert len(saga_starter.messages) == sagas + 1


@pytest.mark.parametrize(("path", "value"), [
    ("items[0].quantity", 2), ("amount", 11), ("items[0].name", "day-two"),
    ("items", [BRIEF_BODY["items"][0]] * 2),
])
def test_the_same_key_with_another_body_is_a_409_naming_the_key_and_places_nothing(
        client: FlaskClient, saga_starter: FakeSagaStarter, path: str, value: Any) -> None:
    key = {"Idempotency-Key": str(uuid.uuid4())}
    first = client.post("/orders", json=BRIEF_BODY, headers=key)
    sagas = len(saga_starter.messages)
    response = client.post("/orders", json=with_field(path, value), headers=key)
    body = response.get_json()
    assert (response.status_code, body["error"]) == (409, "idempotency_key_reused")
    assert body["details"] == [{"field": "Idempotency-Key", "problem": "names another order"}]
    assert key["Idempotency-Key"] in body["message"] and "new key" in body["message"]
    assert len(saga_starter.messages) == sagas
    # The key still names the first order.
    assert client.post("/orders", json=BRIEF_BODY, headers=key).get_json() == first.get_json()
