"""The payment API over a Flask test client: every route, status code and error body."""

from __future__ import annotations

import uuid

import pytest
from sqlalchemy.exc import OperationalError

from glastonbury.api_docs import FILE_ENDPOINTS
from payment_service.service_layer import services

from .conftest import new_id


def request_payment(client, order_id=None, amount=200.0, customer_id=None):
    body = {"orderId": order_id or new_id(), "customerId": customer_id or new_id(),
            "amount": amount}
    return client.post("/payments", json=body)


def assert_error(response, status, code):
    assert response.status_code == status, response.get_json()
    body = response.get_json()
    assert set(body) == {"error", "message", "details"}
    assert body["error"] == code and body["message"]
    return body


def test_a_payment_request_is_accepted_pending_at_once(client):
    order_id = new_id()
    response = request_payment(client, order_id)
    assert response.status_code == 202
    body = response.get_json()
    assert body["orderId"] == order_id and body["status"] == "PENDING"
    assert uuid.UUID(body["paymentId"])
    assert response.headers["Location"] == f"/payments/{order_id}"


def test_a_payment_shows_every_field_of_the_contract(client):
    order_id, customer_id = new_id(), new_id()
    request_payment(client, order_id, 10.5, customer_id)
    payment = client.get(f"/payments/{order_id}").get_json()
    assert payment["customerId"] == customer_id and payment["amount"] == 10.5
    assert (payment["status"], payment["reason"], payment["decidedAt"]) == ("PENDING", None, None)
    assert set(payment) == {"paymentId", "orderId", "customerId", "amount", "status", "reason",
                            "createdAt", "decidedAt"}


def test_the_order_id_makes_a_repeated_request_answer_the_same_payment(client):
    order_id = new_id()
    first = request_payment(client, order_id).get_json()
    repeat = request_payment(client, order_id, amount=999.0)
    assert repeat.status_code == 202
    assert repeat.get_json() == first
    assert client.get(f"/payments/{order_id}").get_json()["amount"] == 200.0


def test_an_order_id_in_upper_case_is_the_same_order(client):
    order_id = new_id()
    request_payment(client, order_id.upper())
    assert client.get(f"/payments/{order_id}").status_code == 200


def test_an_unknown_payment_is_404(client):
    assert_error(client.get(f"/payments/{new_id()}"), 404, "not_found")


@pytest.mark.parametrize("path", ["/payments/not-a-uuid", "/payments/123/cancel",
                                  "/payments/x/refund",
                                  # a UUID, but not in the form every part writes ids in
                                  "/payments/" + "5f0c6f9e3a554c1e9d2b7f3a2c1e9b40",
                                  "/payments/{5f0c6f9e-3a55-4c1e-9d2b-7f3a2c1e9b40}/cancel"])
def test_a_malformed_order_id_in_the_path_is_400(edge_client, path):
    method = edge_client.get if path.count("/") == 2 else edge_client.post
    assert_error(method(path), 400, "malformed_id")


def test_malformed_json_is_400(edge_client):
    response = edge_client.post("/payments", data="{", content_type="application/json")
    assert_error(response, 400, "malformed_json")


def test_a_body_that_is_not_json_is_415(edge_client):
    response = edge_client.post("/payments", data="x", content_type="text/plain")
    assert_error(response, 415, "unsupported_media_type")


def test_a_body_over_64_kib_is_413(edge_client):
    body = '{"pad": "' + "x" * 70000 + '"}'
    response = edge_client.post("/payments", data=body, content_type="application/json")
    assert_error(response, 413, "request_entity_too_large")


@pytest.mark.parametrize(("amount", "problem"), [
    (0, "greater than 0"), (-1, "greater than 0"), (10.123, "2 decimals"),
    (True, "JSON number"), ("10.00", "JSON number"), (None, "JSON number"),
    (1e20, "at most"),
])
def test_an_amount_must_be_a_positive_json_number_with_two_decimals(edge_client, amount,
                                                                    problem):
    body = assert_error(request_payment(edge_client, amount=amount), 422, "validation_failed")
    assert body["details"][0]["field"] == "amount"
    assert problem in body["details"][0]["problem"]


@pytest.mark.parametrize("field", ["orderId", "customerId"])
@pytest.mark.parametrize("value", ["nope", 42, None])
def test_ids_in_the_body_must_be_uuid_strings(edge_client, field, value):
    body = {"orderId": new_id(), "customerId": new_id(), "amount": 1, field: value}
    error = assert_error(edge_client.post("/payments", json=body), 422, "validation_failed")
    assert [detail["field"] for detail in error["details"]] == [field]


def test_missing_fields_are_each_named(edge_client):
    error = assert_error(edge_client.post("/payments", json={}), 422, "validation_failed")
    assert {d["field"] for d in error["details"]} == {"orderId", "customerId", "amount"}


def test_unknown_fields_are_ignored(client):
    body = {"orderId": new_id(), "customerId": new_id(), "amount": 1, "currency": "GBP"}
    assert client.post("/payments", json=body).status_code == 202


def test_a_json_array_body_is_422(edge_client):
    assert_error(edge_client.post("/payments", json=[1]), 422, "validation_failed")


def test_cancelling_a_pending_payment_makes_it_cancelled(client):
    order_id = new_id()
    request_payment(client, order_id)
    response = client.post(f"/payments/{order_id}/cancel")
    assert response.status_code == 200
    assert response.get_json()["status"] == "CANCELLED"
    assert client.get(f"/payments/{order_id}").get_json()["status"] == "CANCELLED"


def test_cancelling_an_unknown_order_leaves_a_tombstone_that_a_late_request_finds(client):
    order_id = new_id()
    tombstone = client.post(f"/payments/{order_id}/cancel").get_json()
    assert (tombstone["status"], tombstone["customerId"], tombstone["amount"]) == (
        "CANCELLED", None, None)
    late = request_payment(client, order_id)
    assert late.status_code == 202
    assert late.get_json() == {"paymentId": tombstone["paymentId"], "orderId": order_id,
                               "status": "CANCELLED"}


def test_cancelling_twice_answers_the_same_cancelled_payment(client):
    order_id = new_id()
    first = client.post(f"/payments/{order_id}/cancel").get_json()
    assert client.post(f"/payments/{order_id}/cancel").get_json() == first


def test_refunding_an_unknown_order_is_404(client):
    assert_error(client.post(f"/payments/{new_id()}/refund"), 404, "not_found")


def test_refunding_a_pending_payment_leaves_it_pending(client):
    order_id = new_id()
    request_payment(client, order_id)
    response = client.post(f"/payments/{order_id}/refund")
    assert (response.status_code, response.get_json()["status"]) == (200, "PENDING")


def test_an_unsupported_method_is_a_json_405(edge_client):
    assert_error(edge_client.delete(f"/payments/{new_id()}"), 405, "method_not_allowed")


def test_health_says_ok_when_the_database_answers(client):
    response = client.get("/healthz")
    assert (response.status_code, response.get_json()["status"]) == (200, "ok")


def test_the_openapi_document_describes_every_route(client, app):
    document = client.get("/openapi.json").get_json()
    assert document["openapi"].startswith("3.1")
    documented = {(path.replace("{orderId}", "<order_id>"), method.upper())
                  for path, operations in document["paths"].items() for method in operations}
    routed = {(rule.rule, method) for rule in app.url_map.iter_rules()
              if rule.endpoint not in FILE_ENDPOINTS
              for method in rule.methods - {"HEAD", "OPTIONS"}}
    assert documented == routed


def test_a_database_that_does_not_answer_is_a_json_503(client, monkeypatch):
    def fail(*_args):
        raise OperationalError("SELECT 1", {}, ConnectionRefusedError("down"))

    monkeypatch.setattr(services, "get_payment", fail)
    assert_error(client.get(f"/payments/{new_id()}"), 503, "unavailable")


def test_answers_carry_exactly_the_fields_the_openapi_document_names(client):
    schemas = client.get("/openapi.json").get_json()["components"]["schemas"]
    order_id = new_id()
    answers = {
        "PaymentAcknowledgement": request_payment(client, order_id).get_json(),
        "Payment": client.get(f"/payments/{order_id}").get_json(),
        "Error": client.get(f"/payments/{new_id()}").get_json(),
        "Health": client.get("/healthz").get_json(),
    }
    for name, answer in answers.items():
        assert set(schemas[name]["required"]) <= set(answer) <= set(schemas[name]["properties"])
