"""Tickets over HTTP: seeding, creating, reading, and every error with its JSON body."""

from __future__ import annotations

import multiprocessing
import time
import uuid

import pytest

from glastonbury.api_docs import FILE_ENDPOINTS
from inventory_service.entrypoints.flask_app import create_app

from tests.conftest import ADMIN, ORCHESTRATOR, SERVICE_TOKENS, TEST_CREDENTIALS

from .support import DAY_ONE, assert_error, new_order, new_ticket, reserve


DAY_ONE_SEEDED = {"id": DAY_ONE, "name": "day-one", "available": 1000, "price": 200.0,
                  "maxPerOrder": 6, "maxPerCustomer": 6}


def test_the_day_one_ticket_is_seeded_with_a_thousand_available_up_to_six_a_booking(client):
    assert client.get(f"/tickets/{DAY_ONE}").json == DAY_ONE_SEEDED


def test_starting_again_never_resets_sold_stock(app, client, database_url):
    assert reserve(client, new_order(), (DAY_ONE, 5)).status_code == 201
    restarted = create_app(database_url, SERVICE_TOKENS)
    try:
        assert restarted.test_client().get(f"/tickets/{DAY_ONE}").json["available"] == 995
    finally:
        restarted.extensions["engine"].dispose()


def _start_worker(database_url, start, outcomes) -> None:
    start.wait()
    try:
        create_app(database_url, SERVICE_TOKENS).extensions["engine"].dispose()
        outcomes.put(None)
    except Exception as error:  # noqa: BLE001 - the test reports any failure to start
        outcomes.put(repr(error))


def test_several_workers_starting_at_once_seed_the_ticket_once(database_url):
    # Processes, as gunicorn's workers are (threads also trip CPython 3.11's concurrent-compile
    # bug, "AST constructor recursion depth mismatch", which no worker of ours would meet).
    context = multiprocessing.get_context("fork")
    start, outcomes = context.Barrier(4), context.Queue()
    workers = [context.Process(target=_start_worker, args=(database_url, start, outcomes))
               for _ in range(4)]
    for worker in workers:
        worker.start()
    failures = [failure for failure in (outcomes.get(timeout=60) for _ in workers) if failure]
    for worker in workers:
        worker.join(timeout=60)
    assert failures == []
    app = create_app(database_url, SERVICE_TOKENS)
    assert app.test_client().get("/tickets").json["tickets"] == [DAY_ONE_SEEDED]
    app.extensions["engine"].dispose()


def test_a_created_ticket_is_answered_with_its_location_and_can_be_read_back(client):
    ticket_id = str(uuid.uuid4())
    response = client.post("/tickets", json={"id": ticket_id, "name": "day-two", "available": 5,
                                             "price": 80.5})
    assert response.status_code == 201
    assert response.json == {"id": ticket_id, "name": "day-two", "available": 5, "price": 80.5,
                             "maxPerOrder": 6, "maxPerCustomer": 6}
    assert response.headers["Location"] == f"/tickets/{ticket_id}"
    assert client.get(f"/tickets/{ticket_id}").json == response.json


def test_a_ticket_created_without_an_id_gets_one_and_is_listed(client):
    ticket_id = new_ticket(client, 0, name="sold out")
    listed = client.get("/tickets").json["tickets"]
    assert {"id": ticket_id, "name": "sold out", "available": 0, "price": 10.0,
            "maxPerOrder": 6, "maxPerCustomer": 6} in listed
    assert len(listed) == 2


def test_creating_a_ticket_whose_id_exists_is_a_conflict(client):
    response = client.post("/tickets", json={"id": DAY_ONE, "name": "again", "available": 1,
                                             "price": 1})
    assert_error(response, 409, "ticket_exists")
    assert client.get(f"/tickets/{DAY_ONE}").json["available"] == 1000


def test_an_unknown_ticket_is_not_found(client):
    assert_error(client.get(f"/tickets/{uuid.uuid4()}"), 404, "ticket_not_found")


def test_a_malformed_ticket_id_is_a_bad_request(client):
    details = assert_error(client.get("/tickets/not-a-uuid"), 400, "malformed_id")
    assert details == [{"field": "ticketId", "problem": "must be a UUID"}]


def test_a_count_written_with_a_zero_fraction_is_that_whole_number(client):
    # JSON Schema, the documents' language, counts 5.0 as the integer 5: a client may send it.
    response = client.post("/tickets", json={"name": "x", "available": 5.0, "price": 1,
                                             "maxPerOrder": 4.0, "maxPerCustomer": 4})
    assert response.status_code == 201, response.json
    assert (response.json["available"], response.json["maxPerOrder"]) == (5, 4)


def test_a_count_of_millions_of_digits_is_refused_at_once(client):
    began = time.monotonic()
    response = client.post("/tickets", data='{"name": "x", "available": 1e9999999, "price": 1}',
                           content_type="application/json")
    assert time.monotonic() - began < 1
    details = assert_error(response, 422, "validation_failed")
    assert [detail["field"] for detail in details] == ["available"]


@pytest.mark.parametrize(("body", "field"), [
    ({"available": 1, "price": 1}, "name"),
    ({"name": "", "available": 1, "price": 1}, "name"),
    ({"name": "x" * 201, "available": 1, "price": 1}, "name"),
    ({"name": 5, "available": 1, "price": 1}, "name"),
    ({"name": "x", "price": 1}, "available"),
    ({"name": "x", "available": -1, "price": 1}, "available"),
    ({"name": "x", "available": True, "price": 1}, "available"),
    ({"name": "x", "available": "5", "price": 1}, "available"),
    ({"name": "x", "available": 1.5, "price": 1}, "available"),
    ({"name": "x", "available": 2**31, "price": 1}, "available"),
    ({"id": None, "name": "x", "available": 1, "price": 1}, "id"),
    ({"id": "nope", "name": "x", "available": 1, "price": 1}, "id"),
    ({"name": "x", "available": 1}, "price"),
    ({"name": "x", "available": 1, "price": -1}, "price"),
    ({"name": "x", "available": 1, "price": 1.005}, "price"),
    ({"name": "x", "available": 1, "price": "1.00"}, "price"),
    ({"name": "x", "available": 1, "price": True}, "price"),
    ({"name": "x", "available": 1, "price": 10**9}, "price"),
    ({"name": "x", "available": 1, "price": 1, "maxPerOrder": 0}, "maxPerOrder"),
    ({"name": "x", "available": 1, "price": 1, "maxPerOrder": 2.5}, "maxPerOrder"),
    ({"name": "x", "available": 1, "price": 1, "maxPerCustomer": 0}, "maxPerCustomer"),
    ({"name": "x", "available": 1, "price": 1, "maxPerCustomer": "6"}, "maxPerCustomer"),
    ({"name": "x", "available": 1, "price": 1, "maxPerCustomer": 2**31}, "maxPerCustomer"),
])
def test_an_invalid_ticket_is_refused_naming_the_field(client, body, field):
    details = assert_error(client.post("/tickets", json=body), 422, "validation_failed")
    assert [detail["field"] for detail in details] == [field]


def test_a_body_that_is_not_json_is_refused(client):
    assert_error(client.post("/tickets", data="name=x"), 415, "unsupported_media_type")
    response = client.post("/tickets", data="{", content_type="application/json")
    assert_error(response, 400, "malformed_json")
    response = client.post("/tickets", json=[1])
    assert_error(response, 422, "validation_failed")


def test_a_body_over_64_kib_is_refused(client):
    response = client.post("/tickets", json={"name": "x" * 70_000, "available": 1})
    assert_error(response, 413, "request_entity_too_large")


def test_unknown_routes_and_methods_answer_json_errors(client):
    assert_error(client.get("/nowhere"), 404, "not_found")
    assert_error(client.delete("/tickets"), 405, "method_not_allowed")


def test_the_service_reports_it_is_alive(client):
    assert client.get("/healthz").json == {"status": "ok"}


def test_the_openapi_document_describes_every_route(app, client):
    document = client.get("/openapi.json").json
    assert document["openapi"].startswith("3.1")
    routes = {(rule.rule.replace("<", "{").replace(">", "}"), method.lower())
              for rule in app.url_map.iter_rules() if rule.endpoint not in FILE_ENDPOINTS
              for method in rule.methods - {"HEAD", "OPTIONS"}}
    described = {(path, method) for path, item in document["paths"].items() for method in item}
    renamed = {(path.replace("{ticket_id}", "{ticketId}").replace("{order_id}", "{orderId}"), m)
               for path, m in routes}
    assert described == renamed


def test_every_reference_in_the_openapi_document_resolves(client):
    document = client.get("/openapi.json").json

    def references(node):
        if isinstance(node, dict):
            yield from ([node["$ref"]] if "$ref" in node else [])
            for value in node.values():
                yield from references(value)
        elif isinstance(node, list):
            for value in node:
                yield from references(value)

    for reference in references(document):
        name = reference.removeprefix("#/components/schemas/")
        assert name in document["components"]["schemas"], reference


def test_an_admin_changes_a_price_and_the_catalogue_answers_it(client):
    ticket = new_ticket(client, 5, price=100)
    response = client.put(f"/tickets/{ticket}/price", json={"price": 125.5})
    assert response.status_code == 200 and response.json["price"] == 125.5
    assert client.get(f"/tickets/{ticket}").json["price"] == 125.5
    assert_error(client.put(f"/tickets/{uuid.uuid4()}/price", json={"price": 1}), 404,
                 "ticket_not_found")
    assert_error(client.put(f"/tickets/{ticket}/price", json={"price": -1}), 422,
                 "validation_failed")


def test_a_ticket_is_created_with_the_limits_the_admin_gives(client):
    response = client.post("/tickets", json={"name": "camping", "available": 50, "price": 60,
                                             "maxPerOrder": 2, "maxPerCustomer": 4})
    assert (response.json["maxPerOrder"], response.json["maxPerCustomer"]) == (2, 4)
    listed = client.get("/tickets", query_string={"id": response.json["id"]}).json["tickets"]
    assert (listed[0]["maxPerOrder"], listed[0]["maxPerCustomer"]) == (2, 4)


def test_an_admin_changes_a_tickets_limits_and_the_catalogue_answers_them(client):
    ticket = new_ticket(client, 5)
    response = client.put(f"/tickets/{ticket}/limits", json={"maxPerOrder": 4,
                                                             "maxPerCustomer": 8})
    assert response.status_code == 200
    assert client.get(f"/tickets/{ticket}").json == {
        "id": ticket, "name": "test ticket", "available": 5, "price": 10.0, "maxPerOrder": 4,
        "maxPerCustomer": 8}
    assert_error(client.put(f"/tickets/{uuid.uuid4()}/limits", json={
        "maxPerOrder": 1, "maxPerCustomer": 1}), 404, "ticket_not_found")
    for body, field in [({"maxPerOrder": 0, "maxPerCustomer": 1}, "maxPerOrder"),
                        ({"maxPerOrder": 1}, "maxPerCustomer"),
                        ({"maxPerOrder": 1, "maxPerCustomer": True}, "maxPerCustomer")]:
        details = assert_error(client.put(f"/tickets/{ticket}/limits", json=body), 422,
                               "validation_failed")
        assert [detail["field"] for detail in details] == [field]


def test_tickets_can_be_asked_for_by_id(client):
    first, second = new_ticket(client, 1, price=1), new_ticket(client, 2, price=2)
    listed = client.get("/tickets", query_string=[("id", first), ("id", second),
                                                 ("id", str(uuid.uuid4()))]).json["tickets"]
    assert sorted(t["id"] for t in listed) == sorted([first, second])
    assert_error(client.get("/tickets", query_string={"id": "nope"}), 400, "malformed_id")


# -- who may call what -----------------------------------------------------------------------

@pytest.fixture
def real_app(database_url):
    """The app with the orchestrator's and the admin's own tokens (from the environment)."""
    app = create_app(database_url)
    yield app
    app.extensions["engine"].dispose()


RESERVATION = {"customerId": str(uuid.uuid4()),
               "items": [{"ticketId": DAY_ONE, "quantity": 1, "unitPrice": 200.0}]}
WRITES = [("post", "/tickets", {"name": "x", "available": 1, "price": 1}),
          ("put", f"/tickets/{DAY_ONE}/price", {"price": 1}),
          ("put", f"/tickets/{DAY_ONE}/limits", {"maxPerOrder": 1000, "maxPerCustomer": 1000}),
          ("put", f"/reservations/{uuid.uuid4()}", RESERVATION),
          ("post", f"/reservations/{uuid.uuid4()}/release", None),
          ("post", f"/reservations/{uuid.uuid4()}/confirm", None),
          ("get", f"/reservations/{uuid.uuid4()}", None)]


@pytest.mark.parametrize(("method", "path", "body"), WRITES)
def test_without_a_credential_every_write_is_a_json_401_and_changes_nothing(
        real_app, method, path, body):
    anyone = real_app.test_client()
    for headers in ({}, {"Authorization": "Bearer guess"}, {"Authorization": "Basic eDp4"},
                    {"Authorization": TEST_CREDENTIALS["ADMIN_TOKEN"]}):
        response = getattr(anyone, method)(path, json=body, headers=headers)
        assert_error(response, 401, "unauthorized")
        assert response.headers["WWW-Authenticate"].startswith("Bearer")
    assert anyone.get(f"/tickets/{DAY_ONE}").json == DAY_ONE_SEEDED


def test_reservations_are_the_orchestrators_and_the_catalogue_the_admins(real_app):
    anyone = real_app.test_client()
    order = str(uuid.uuid4())
    body = RESERVATION
    assert_error(anyone.put(f"/reservations/{order}", json=body, headers=ADMIN), 401,
                 "unauthorized")
    assert anyone.put(f"/reservations/{order}", json=body, headers=ORCHESTRATOR).status_code == 201
    new = {"name": "x", "available": 1, "price": 1}
    assert_error(anyone.post("/tickets", json=new, headers=ORCHESTRATOR), 401, "unauthorized")
    assert anyone.post("/tickets", json=new, headers=ADMIN).status_code == 201
    limits = {"maxPerOrder": 2, "maxPerCustomer": 2}
    assert_error(anyone.put(f"/tickets/{DAY_ONE}/limits", json=limits, headers=ORCHESTRATOR),
                 401, "unauthorized")
    assert anyone.put(f"/tickets/{DAY_ONE}/limits", json=limits, headers=ADMIN).status_code == 200
    # The catalogue itself is public.
    assert anyone.get(f"/tickets/{DAY_ONE}").status_code == 200
    assert anyone.get("/tickets").status_code == 200
