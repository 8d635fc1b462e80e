"""Reservations over HTTP: all or nothing, idempotent, compensable, with JSON errors."""

from __future__ import annotations

import uuid
from decimal import Decimal

import pytest
from sqlalchemy import select

from inventory_service.adapters.tables import customer_holdings

from .support import DAY_ONE, assert_error, available, new_order, new_ticket, reserve


def test_reserving_holds_the_tickets_and_takes_them_from_stock(client):
    order, customer = new_order(), str(uuid.uuid4())
    response = reserve(client, order, (DAY_ONE, 3), customer=customer)
    assert response.status_code == 201
    assert response.json == {"orderId": order, "customerId": customer, "status": "HELD",
                             "items": [{"ticketId": DAY_ONE, "quantity": 3}]}
    assert client.get(f"/reservations/{order}").json == response.json
    assert available(client, DAY_ONE) == 997


def test_reserving_again_answers_the_existing_reservation_and_takes_nothing_more(client):
    order = new_order()
    first = reserve(client, order, (DAY_ONE, 3))
    again = reserve(client, order, (DAY_ONE, 5))
    assert (again.status_code, again.json) == (200, first.json)
    assert available(client, DAY_ONE) == 997


def test_a_confirmed_reservation_reserved_again_is_answered_unchanged(client):
    order = new_order()
    reserve(client, order, (DAY_ONE, 1))
    client.post(f"/reservations/{order}/confirm")
    again = reserve(client, order, (DAY_ONE, 1))
    assert (again.status_code, again.json["status"]) == (200, "CONFIRMED")


def test_duplicate_lines_of_a_ticket_are_held_as_one(client):
    order = new_order()
    response = reserve(client, order, (DAY_ONE, 2), (DAY_ONE, 3))
    assert response.json["items"] == [{"ticketId": DAY_ONE, "quantity": 5}]
    assert available(client, DAY_ONE) == 995


def test_an_order_wanting_more_than_is_left_holds_nothing_and_names_the_short_ticket(client):
    scarce = new_ticket(client, 1)
    order = new_order()
    response = reserve(client, order, (DAY_ONE, 2), (scarce, 1), (scarce, 1))
    details = assert_error(response, 409, "out_of_stock")
    assert details == [{"field": "items[1].quantity", "ticketId": scarce, "requested": 2,
                        "available": 1, "problem": "1 available, 2 requested"}]
    assert (available(client, DAY_ONE), available(client, scarce)) == (1000, 1)
    assert_error(client.get(f"/reservations/{order}"), 404, "reservation_not_found")


def test_an_order_for_an_unknown_ticket_holds_nothing(client):
    unknown = str(uuid.uuid4())
    response = reserve(client, new_order(), (DAY_ONE, 1), (unknown, 1))
    details = assert_error(response, 409, "unknown_ticket")
    assert details == [{"field": "items[1].ticketId", "ticketId": unknown,
                        "problem": "no such ticket"}]
    assert available(client, DAY_ONE) == 1000


@pytest.mark.parametrize(("action", "status", "left"), [
    ("release", "RELEASED", 1000),
    ("confirm", "CONFIRMED", 996),
])
def test_a_repeated_release_or_confirm_changes_stock_once(client, action, status, left):
    order = new_order()
    reserve(client, order, (DAY_ONE, 4))
    for _ in range(3):
        response = client.post(f"/reservations/{order}/{action}")
        assert (response.status_code, response.json["status"]) == (200, status)
        assert response.json["items"] == [{"ticketId": DAY_ONE, "quantity": 4}]
    assert available(client, DAY_ONE) == left


def test_a_released_order_cannot_be_reserved_again(client):
    order = new_order()
    reserve(client, order, (DAY_ONE, 4))
    client.post(f"/reservations/{order}/release")
    assert_error(reserve(client, order, (DAY_ONE, 4)), 409, "reservation_released")
    assert available(client, DAY_ONE) == 1000


def test_releasing_an_unknown_order_leaves_a_tombstone_that_refuses_a_late_reserve(client):
    order = new_order()
    response = client.post(f"/reservations/{order}/release")
    assert (response.status_code, response.json) == (
        200, {"orderId": order, "customerId": None, "status": "RELEASED", "items": []})
    assert client.get(f"/reservations/{order}").json["status"] == "RELEASED"
    assert_error(reserve(client, order, (DAY_ONE, 1)), 409, "reservation_released")
    assert available(client, DAY_ONE) == 1000


def test_a_confirmed_reservation_cannot_be_released(client):
    order = new_order()
    reserve(client, order, (DAY_ONE, 2))
    client.post(f"/reservations/{order}/confirm")
    assert_error(client.post(f"/reservations/{order}/release"), 409, "already_confirmed")
    assert available(client, DAY_ONE) == 998


def test_a_released_reservation_cannot_be_confirmed(client):
    order = new_order()
    client.post(f"/reservations/{order}/release")
    assert_error(client.post(f"/reservations/{order}/confirm"), 409, "reservation_released")


def test_confirming_or_reading_an_unknown_reservation_is_not_found(client):
    order = new_order()
    assert_error(client.post(f"/reservations/{order}/confirm"), 404, "reservation_not_found")
    assert_error(client.get(f"/reservations/{order}"), 404, "reservation_not_found")


@pytest.mark.parametrize(("method", "path"), [
    ("put", "/reservations/123"),
    ("get", "/reservations/123"),
    ("post", "/reservations/123/release"),
    ("post", "/reservations/123/confirm"),
])
def test_a_malformed_order_id_is_a_bad_request(client, method, path):
    response = getattr(client, method)(path, json={"customerId": str(uuid.uuid4()), "items": [
        {"ticketId": DAY_ONE, "quantity": 1, "unitPrice": 200.0}]})
    details = assert_error(response, 400, "malformed_id")
    assert details == [{"field": "orderId", "problem": "must be a UUID"}]


LINE = {"ticketId": DAY_ONE, "quantity": 1, "unitPrice": 200.0}


@pytest.mark.parametrize(("items", "field"), [
    ([], "items"),
    ([LINE] * 51, "items"),
    ([{"quantity": 1, "unitPrice": 200.0}], "items[0].ticketId"),
    ([{**LINE, "ticketId": "nope"}], "items[0].ticketId"),
    ([{"ticketId": DAY_ONE, "unitPrice": 200.0}], "items[0].quantity"),
    ([{**LINE, "quantity": 0}], "items[0].quantity"),
    ([{**LINE, "quantity": 10_001}], "items[0].quantity"),
    ([{**LINE, "quantity": True}], "items[0].quantity"),
    ([{**LINE, "quantity": "1"}], "items[0].quantity"),
    ([{**LINE, "quantity": 1.5}], "items[0].quantity"),
    # The inventory holds no line without the price it was ordered at (the catalogue's).
    ([{"ticketId": DAY_ONE, "quantity": 1}], "items[0].unitPrice"),
    ([LINE, {"ticketId": DAY_ONE, "quantity": 1}], "items[1].unitPrice"),
    ([{**LINE, "unitPrice": None}], "items[0].unitPrice"),
    ("all", "items"),
])
def test_an_invalid_reservation_is_refused_naming_the_field(client, items, field):
    response = client.put(f"/reservations/{new_order()}",
                          json={"customerId": str(uuid.uuid4()), "items": items})
    details = assert_error(response, 422, "validation_failed")
    assert [detail["field"] for detail in details] == [field]
    assert available(client, DAY_ONE) == 1000


@pytest.mark.parametrize("customer", [None, "nope", 7])
def test_a_reservation_names_its_customer_or_is_refused(client, customer):
    body = {"items": [LINE], **({} if customer is None else {"customerId": customer})}
    details = assert_error(client.put(f"/reservations/{new_order()}", json=body), 422,
                           "validation_failed")
    assert [detail["field"] for detail in details] == ["customerId"]
    assert available(client, DAY_ONE) == 1000


def test_unknown_fields_of_a_reservation_are_ignored(client):
    body = {"customerId": str(uuid.uuid4()), "items": [{**LINE, "name": "day-one"}], "note": "x"}
    assert client.put(f"/reservations/{new_order()}", json=body).status_code == 201


def test_a_reservation_that_is_not_json_is_refused(client):
    path = f"/reservations/{new_order()}"
    assert_error(client.put(path, data="items"), 415, "unsupported_media_type")
    assert_error(client.put(path, data="{", content_type="application/json"), 400,
                 "malformed_json")


def test_a_reservation_at_the_catalogue_price_holds_and_at_another_holds_nothing(client):
    ticket = new_ticket(client, 5, price=80.5)
    customer = str(uuid.uuid4())
    body = {"customerId": customer,
            "items": [{"ticketId": ticket, "quantity": 2, "unitPrice": 80.5}]}
    assert client.put(f"/reservations/{new_order()}", json=body).status_code == 201
    cheaper = {"customerId": customer,
               "items": [{"ticketId": ticket, "quantity": 2, "unitPrice": 0.01}]}
    details = assert_error(client.put(f"/reservations/{new_order()}", json=cheaper), 409,
                           "price_changed")
    # (the test client reads numbers as the app does: with a fraction, as Decimal)
    assert details == [{"field": "items[0].unitPrice", "ticketId": ticket,
                        "orderedAt": Decimal("0.01"), "price": Decimal("80.5"),
                        "problem": "the catalogue's price is 80.50"}]
    assert available(client, ticket) == 3


def test_a_made_up_price_beside_the_catalogues_for_the_same_ticket_holds_nothing(client):
    body = {"customerId": str(uuid.uuid4()), "items": [
        {**LINE, "unitPrice": 200.0}, {**LINE, "unitPrice": 0.01}]}
    details = assert_error(client.put(f"/reservations/{new_order()}", json=body), 409,
                           "price_changed")
    assert [(d["field"], d["orderedAt"]) for d in details] == [("items[0].unitPrice",
                                                               Decimal("0.01"))]
    assert available(client, DAY_ONE) == 1000


# -- what one order and one customer may hold ------------------------------------------------

def holding(app, customer: str, ticket: str) -> int:
    """What the customer holds of the ticket, by the inventory's own count."""
    with app.extensions["engine"].connect() as connection:
        return connection.execute(
            select(customer_holdings.c.held).where(
                customer_holdings.c.customer_id == uuid.UUID(customer),
                customer_holdings.c.ticket_id == uuid.UUID(ticket))).scalar_one_or_none() or 0


def test_an_order_over_the_limit_per_order_holds_nothing_and_names_the_ticket_and_limit(client):
    ticket = new_ticket(client, 100, name="day-two", maxPerOrder=6, maxPerCustomer=50)
    response = reserve(client, new_order(), (DAY_ONE, 1), (ticket, 4), (ticket, 3))
    details = assert_error(response, 409, "over_order_limit")
    assert details == [{"field": "items[1].quantity", "ticketId": ticket, "name": "day-two",
                        "requested": 7, "limit": 6,
                        "problem": "at most 6 an order, 7 requested"}]
    assert (available(client, DAY_ONE), available(client, ticket)) == (1000, 100)


def test_a_customer_holds_at_most_their_limit_across_orders_and_nothing_beyond_it(app, client):
    ticket = new_ticket(client, 100, name="day-two", maxPerOrder=6, maxPerCustomer=6)
    customer = str(uuid.uuid4())
    assert reserve(client, new_order(), (ticket, 4), customer=customer).status_code == 201
    response = reserve(client, new_order(), (DAY_ONE, 1), (ticket, 3), customer=customer)
    details = assert_error(response, 409, "over_customer_limit")
    assert details == [{"field": "items[1].quantity", "ticketId": ticket, "name": "day-two",
                        "requested": 3, "held": 4, "limit": 6,
                        "problem": "at most 6 held by one customer; 4 held, 3 requested"}]
    assert (available(client, DAY_ONE), available(client, ticket)) == (1000, 96)
    assert (holding(app, customer, DAY_ONE), holding(app, customer, ticket)) == (0, 4)
    # Another customer is not held back by the first one's tickets.
    assert reserve(client, new_order(), (ticket, 6)).status_code == 201


def test_a_released_hold_no_longer_counts_and_a_sold_one_still_does(app, client):
    ticket = new_ticket(client, 100, maxPerOrder=6, maxPerCustomer=6)
    customer = str(uuid.uuid4())
    released, confirmed = new_order(), new_order()
    assert reserve(client, released, (ticket, 6), customer=customer).status_code == 201
    assert_error(reserve(client, new_order(), (ticket, 1), customer=customer), 409,
                 "over_customer_limit")
    client.post(f"/reservations/{released}/release")
    client.post(f"/reservations/{released}/release")   # a repeat gives back nothing more
    assert holding(app, customer, ticket) == 0
    assert reserve(client, confirmed, (ticket, 6), customer=customer).status_code == 201
    client.post(f"/reservations/{confirmed}/confirm")
    assert holding(app, customer, ticket) == 6
    assert_error(reserve(client, new_order(), (ticket, 1), customer=customer), 409,
                 "over_customer_limit")


def test_a_reservation_reserved_again_counts_once_against_its_customer(app, client):
    ticket = new_ticket(client, 100)
    customer, order = str(uuid.uuid4()), new_order()
    for _ in range(3):
        assert reserve(client, order, (ticket, 2), customer=customer).status_code in (200, 201)
    assert holding(app, customer, ticket) == 2


def test_an_order_out_of_stock_takes_nothing_off_its_customers_limit(app, client):
    scarce = new_ticket(client, 1)
    customer = str(uuid.uuid4())
    assert_error(reserve(client, new_order(), (DAY_ONE, 2), (scarce, 2), customer=customer),
                 409, "out_of_stock")
    assert (holding(app, customer, DAY_ONE), holding(app, customer, scarce)) == (0, 0)


def test_a_lowered_limit_refuses_new_holds_until_the_customer_is_under_it(app, client):
    ticket = new_ticket(client, 100)
    customer = str(uuid.uuid4())
    assert reserve(client, new_order(), (ticket, 5), customer=customer).status_code == 201
    client.put(f"/tickets/{ticket}/limits", json={"maxPerOrder": 6, "maxPerCustomer": 4})
    details = assert_error(reserve(client, new_order(), (ticket, 1), customer=customer), 409,
                           "over_customer_limit")
    assert (details[0]["held"], details[0]["limit"]) == (5, 4)
