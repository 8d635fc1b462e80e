"""The HTTP API's conventions on the running stack: a retried order with its Idempotency-Key,
the list of orders a page at a time, and each service's page that renders its document."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
import requests

from tests.e2e.conftest import DAY_ONE, Client

pytestmark = pytest.mark.e2e


def every_order(client: Client, page_size: int) -> list[dict[str, Any]]:
    """Every order, as the admin reads them: a page at a time, following each `Link` header."""
    base, found = client.stack.url("order"), []
    response = requests.get(f"{base}/orders", params={"limit": page_size},
                            headers=client.admin, timeout=10)
    while True:
        assert response.status_code == 200, response.text
        found += response.json()["orders"]
        if "next" not in response.links:
            assert response.json()["next"] is None
            return found
        assert response.links["next"]["url"] == response.json()["next"]
        response = requests.get(base + response.links["next"]["url"], headers=client.admin,
                                timeout=10)


def test_an_order_retried_with_its_idempotency_key_is_placed_once_and_another_body_is_refused(
        client: Client) -> None:
    customer, key = str(uuid.uuid4()), {"Idempotency-Key": f"checkout-{uuid.uuid4()}"}
    body = {"customerId": customer, "amount": 200.0,
            "items": [{"id": DAY_ONE, "name": "day-one", "amount": 200.0, "quantity": 1}]}
    url = f"{client.stack.url('order')}/orders"
    first = requests.post(url, json=body, headers=key, timeout=10)
    assert first.status_code == 202, first.text
    order_id = first.json()["id"]
    assert client.wait_until_terminal(order_id)["status"] == "COMPLETED"

    again = requests.post(url, json=body, headers=key, timeout=10)
    assert again.status_code == 202, again.text
    assert (again.json()["id"], again.headers["Location"]) == (order_id, first.headers["Location"])
    assert again.json()["status"] == "COMPLETED"   # the order as it stands now

    other = requests.post(url, json=body | {"items": [body["items"][0] | {"quantity": 2}]},
                          headers=key, timeout=10)
    assert (other.status_code, other.json()["error"]) == (409, "idempotency_key_reused")
    assert other.json()["details"] == [{"field": "Idempotency-Key",
                                        "problem": "names another order"}]
    mine = [order["id"] for order in every_order(client, page_size=3)
            if order["customerId"] == customer]
    assert mine == [order_id]
    assert client.reservation(order_id) == "CONFIRMED" and client.payment(order_id) == "APPROVED"
