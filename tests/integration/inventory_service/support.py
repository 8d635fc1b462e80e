"""Small helpers for driving the inventory API in tests."""

from __future__ import annotations

import uuid
from typing import Any

from flask.testing import FlaskClient
from werkzeug.test import TestResponse

DAY_ONE = "3852cb18-9c19-4326-ac77-a1a0264bd98c"


# The catalogue's price of each ticket the tests made, so that a reservation states it.
PRICES: dict[str, float] = {DAY_ONE: 200.0}


def new_ticket(client: FlaskClient, available: int, name: str = "test ticket",
               price: float = 10.0, **limits: int) -> str:
    """Create a ticket with its own random id (and `maxPerOrder`, `maxPerCustomer` if given);
    its id."""
    response = client.post("/tickets", json={"name": name, "available": available,
                                             "price": price, **limits})
    assert response.status_code == 201, response.json
    PRICES[response.json["id"]] = price
    return response.json["id"]


def reserve(client: FlaskClient, order_id: str, *items: tuple[str, Any],
            customer: str | None = None) -> TestResponse:
    """PUT the order's reservation of (ticket id, quantity) items at the catalogue's prices,
    for `customer` (by default one of its own: the stock decides, never a customer's limit)."""
    body = {"customerId": customer or str(uuid.uuid4()), "items": [
        {"ticketId": ticket, "quantity": quantity, "unitPrice": PRICES.get(ticket, 10.0)}
        for ticket, quantity in items]}
    return client.put(f"/reservations/{order_id}", json=body)


def available(client: FlaskClient, ticket_id: str) -> int:
    """The ticket's stock now."""
    return client.get(f"/tickets/{ticket_id}").json["available"]


def new_order() -> str:
    return str(uuid.uuid4())


def assert_error(response: TestResponse, status: int, code: str) -> list[dict[str, Any]]:
    """The response is the JSON error body with this status and code; its details."""
    assert response.status_code == status, response.get_data(as_text=True)
    body = response.json
    assert set(body) == {"error", "message", "details"}
    assert body["error"] == code and body["message"]
    assert all({"field", "problem"} <= set(detail) for detail in body["details"])
    return body["details"]
