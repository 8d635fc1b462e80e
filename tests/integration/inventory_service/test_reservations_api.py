"""Reservations over HTTP: all or nothing, idempotent, compensable, with JSON errors."""

from __future__ import annotations

import uuid
from decimal import Decimal

import pytest

from .support import DAY_ONE, assert_error, available, new_order, new_ticket, reserve


def test_reserving_holds_the_tickets_and_takes_them_from_stock(client):
    order = new_order()
    response = reserve(client, order, (DAY_ONE, 3))
    assert response.status_code == 201
    assert response.json == {"orderId": order, "status": "HELD",
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
        200, {"orderId": order, "status": "RELEASED", "items": []})
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
    response = getattr(client, method)(path, json={"items": [{"ticketId": DAY_ONE, "quantity": 1}]})
    details = assert_error(response, 400, "malformed_id")
    assert details == [{"field": "orderId", "problem": "must be a UUID"}]


@pytest.mark.parametrize(("items", "field"), [
    ([], "items"),
    ([{"ticketId": DAY_ONE, "quantity": 1}] * 51, "items"),
    ([{"quantity": 1}], "items[0].ticketId"),
    ([{"ticketId": "nope", "quantity": 1}], "items[0].ticketId"),
    ([{"ticketId": DAY_ONE}], "items[0].quantity"),
    ([{"ticketId": DAY_ONE, "quantity": 0}], "items[0].quantity"),
    ([{"ticketId": DAY_ONE, "quantity": 10_001}], "items[0].quantity"),
    ([{"ticketId": DAY_ONE, "quantity": True}], "items[0].quantity"),
    ([{"ticketId": DAY_ONE, "quantity": "1"}], "items[0].quantity"),
    ([{"ticketId": DAY_ONE, "quantity": 1.0}], "items[0].quantity"),
    ("all", "items"),
])
def test_an_invalid_reservation_is_refused_naming_the_field(client, items, field):
    response = client.put(f"/reservations/{new_order()}", json={"items": items})
    details = assert_error(response, 422, "validation_failed")
    assert [detail["field"] for detail in details] == [field]
    assert available(client, DAY_ONE) == 1000


def test_unknown_fields_of_a_reservation_are_ignored(client):
    body = {"items": [{"ticketId": DAY_ONE, "quantity": 1, "name": "day-one"}], "note": "x"}
    assert client.put(f"/reservations/{new_order()}", json=body).status_code == 201


def test_a_reservation_that_is_not_json_is_refused(client):
    path = f"/reservations/{new_order()}"
    assert_error(client.put(path, data="items"), 415, "unsupported_media_type")
    assert_error(client.put(path, data="{", content_type="application/json"), 400,
                 "malformed_json")


def test_a_reservation_at_the_catalogue_price_holds_and_at_another_holds_nothing(client):
    ticket = new_ticket(client, 5, price=80.5)
    body = {"items": [{"ticketId": ticket, "quantity": 2, "unitPrice": 80.5}]}
    assert client.put(f"/reservations/{new_order()}", json=body).status_code == 201
    cheaper = {"items": [{"ticketId": ticket, "quantity": 2, "unitPrice": 0.01}]}
    details = assert_error(client.put(f"/reservations/{new_order()}", json=cheaper), 409,
                           "price_changed")
    # (the test client reads numbers as the app does: with a fraction, as Decimal)
    assert details == [{"field": "items[0].unitPrice", "ticketId": ticket,
                        "orderedAt": Decimal("0.01"), "price": Decimal("80.5"),
                        "problem": "the catalogue's price is 80.50"}]
    assert available(client, ticket) == 3
