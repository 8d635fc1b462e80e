"""The OpenAPI documents are generated from the routes and the models: they cannot drift.

Each service's document names, for each route, the pydantic models the route validates with; the
schemas are those models' own. These tests hold the declarations to the routes' code and show that
a constraint changed in a model shows up in the document.
"""

from __future__ import annotations

import ast
import inspect
import re
import textwrap
from collections.abc import Callable
from dataclasses import replace
from decimal import Decimal
from typing import Any

import pytest
from flask import Blueprint, Flask
from pydantic import BaseModel, Field, ValidationError

from glastonbury.json_schema import DocumentedJsonSchema
from glastonbury.openapi import REF_TEMPLATE, Answer, Api, Link, Operation
from inventory_service.entrypoints import flask_app as inventory_app
from inventory_service.entrypoints import openapi as inventory_openapi
from order_service.entrypoints import flask_app as order_app
from order_service.entrypoints import openapi as order_openapi
from order_service.entrypoints import schemas as order_schemas
from payment_service.entrypoints import flask_app as payment_app
from payment_service.entrypoints import openapi as payment_openapi
from payment_service.entrypoints import schemas as payment_schemas

SERVICES: dict[str, tuple[Api, Blueprint]] = {
    "order": (order_openapi.API, order_app.routes),
    "inventory": (inventory_openapi.API, inventory_app.api),
    "payment": (payment_openapi.API, payment_app.api),
}


def views(routes: Blueprint) -> dict[str, Callable[..., Any]]:
    """Each view of `routes` by its name, as the generator finds them."""
    app = Flask(__name__)
    app.register_blueprint(routes)
    return {endpoint.rpartition(".")[2]: view for endpoint, view in app.view_functions.items()
            if endpoint != "static"}


def validated_models(view: Callable[..., Any]) -> set[type]:
    """The models the view's code passes to `validated(Model, ...)`."""
    function = inspect.unwrap(view)
    tree = ast.parse(textwrap.dedent(inspect.getsource(function)))
    return {resolve(call.args[0], function.__globals__) for call in ast.walk(tree)
            if isinstance(call, ast.Call) and isinstance(call.func, ast.Name)
            and call.func.id == "validated"}


def resolve(node: ast.expr, names: dict[str, Any]) -> Any:
    """`schemas.PlaceOrderBody` (a name or a dotted name) as the object it names."""
    if isinstance(node, ast.Attribute):
        return getattr(resolve(node.value, names), node.attr)
    assert isinstance(node, ast.Name), ast.dump(node)
    return names[node.id]


def declared_models(operation: Operation) -> set[type]:
    return {model for model in (operation.body, operation.query, operation.headers) if model}


def schema_of(document: dict[str, Any], schema: dict[str, Any]) -> dict[str, Any]:
    """`schema`, or the component it refers to."""
    if "$ref" in schema:
        return document["components"]["schemas"][schema["$ref"].rpartition("/")[2]]
    return schema


def body_schema(document: dict[str, Any], path: str, method: str) -> dict[str, Any]:
    body = document["paths"][path][method]["requestBody"]
    return schema_of(document, body["content"]["application/json"]["schema"])


def parameter(document: dict[str, Any], path: str, method: str, name: str) -> dict[str, Any]:
    found = [p for p in document["paths"][path][method]["parameters"] if p["name"] == name]
    assert len(found) == 1, found
    return found[0]


@pytest.mark.parametrize("service", sorted(SERVICES))
def test_every_route_validates_with_the_models_its_documented_operation_names(
        service: str) -> None:
    api, routes = SERVICES[service]
    routed = views(routes)
    assert set(routed) == set(api.operations)
    for name, view in routed.items():
        assert validated_models(view) == declared_models(api.operations[name]), name


@pytest.mark.parametrize("service", sorted(SERVICES))
def test_each_documented_request_schema_is_its_models_own(service: str) -> None:
    api, routes = SERVICES[service]
    document = api.document(routes)
    documented = [(path, method, operation) for path, item in document["paths"].items()
                  for method, operation in item.items()]
    # The operationId is the view's name in camelCase.
    by_id = {operation["operationId"]: (path, method) for path, method, operation in documented}
    for name, operation in api.operations.items():
        path, method = by_id[re.sub(r"_([a-z])", lambda letter: letter[1].upper(), name)]
        if operation.body:
            own = operation.body.model_json_schema(by_alias=True, ref_template=REF_TEMPLATE,
                                                   schema_generator=DocumentedJsonSchema)
            own.pop("$defs", None)
            assert body_schema(document, path, method) == own, name
        for model in (operation.query, operation.headers):
            if model:
                for alias in model.model_json_schema(by_alias=True)["properties"]:
                    assert parameter(document, path, method, alias)["schema"], (name, alias)


def test_a_constraint_changed_in_a_model_shows_up_in_the_document() -> None:
    class FewerLines(order_schemas.PlaceOrderBody):
        items: list[order_schemas.OrderItemBody] = Field(min_length=1, max_length=3)

    class ShorterWait(order_schemas.GetOrderQuery):
        wait: float = Field(default=0, ge=0, le=5)

    operations = order_openapi.API.operations
    changed = replace(order_openapi.API, operations={
        **operations,
        "place_order": replace(operations["place_order"], body=FewerLines),
        "get_order": replace(operations["get_order"], query=ShorterWait)})
    document = changed.document(order_app.routes)
    assert body_schema(document, "/orders", "post")["properties"]["items"]["maxItems"] == 3
    assert parameter(document, "/orders/{orderId}", "get", "wait")["schema"]["maximum"] == 5
    published = order_openapi.API.document(order_app.routes)
    assert body_schema(published, "/orders", "post")["properties"]["items"]["maxItems"] == 50


def test_the_payment_amount_is_documented_as_the_model_checks_it() -> None:
    document = payment_openapi.API.document(payment_app.api)
    amount = body_schema(document, "/payments", "post")["properties"]["amount"]
    assert amount["type"] == "number"
    assert amount["maximum"] == float(payment_schemas.MAX_AMOUNT)
    assert (amount["exclusiveMinimum"], amount["multipleOf"]) == (0, 0.01)
    body = {"orderId": "e081ad0f-f83e-4f81-b2d7-23655ac04b8a",
            "customerId": "e081ad0f-f83e-4f81-b2d7-23655ac04b8a"}
    payment_schemas.PaymentRequest.model_validate({**body, "amount": amount["maximum"]})
    with pytest.raises(ValidationError):
        payment_schemas.PaymentRequest.model_validate(
            {**body, "amount": float(payment_schemas.MAX_AMOUNT + Decimal("0.01"))})


def test_the_long_poll_and_its_retry_after_are_documented() -> None:
    document = order_openapi.API.document(order_app.routes)
    wait = parameter(document, "/orders/{orderId}", "get", "wait")
    assert (wait["in"], wait["required"]) == ("query", False)
    assert wait["schema"] == {"type": "number", "minimum": 0,
                              "maximum": order_schemas.MAX_WAIT_S, "default": 0}
    answer = document["paths"]["/orders/{orderId}"]["get"]["responses"]["200"]
    assert "Retry-After" in answer["headers"]


def test_text_a_database_stores_is_documented_without_nul_and_amounts_as_json_numbers() -> None:
    document = order_openapi.API.document(order_app.routes)
    item = document["components"]["schemas"]["OrderItemBody"]["properties"]
    assert item["name"]["pattern"] == r"^[^\u0000]*$"
    assert item["amount"] == {"type": "number", "minimum": 0, "maximum": 999999999.99,
                              "multipleOf": 0.01, "description": item["amount"]["description"]}


def test_secured_routes_carry_their_callers_and_a_401() -> None:
    document = order_openapi.API.document(order_app.routes)
    listing = document["paths"]["/orders"]["get"]
    assert listing["security"] == [{"orchestrator": []}, {"admin": []}]
    assert "401" in listing["responses"]
    assert "orchestrator or admin" in listing["description"]
    outcome = document["paths"]["/orders/{orderId}/outcome"]["post"]
    assert outcome["security"] == [{"orchestrator": []}]
    assert set(document["components"]["securitySchemes"]) == {"orchestrator", "admin"}
    placing = document["paths"]["/orders"]["post"]
    assert "security" not in placing and "401" not in placing["responses"]


def test_a_route_without_a_declared_operation_cannot_be_documented() -> None:
    operations = dict(order_openapi.API.operations)
    del operations["healthz"]
    with pytest.raises(LookupError, match="healthz"):
        replace(order_openapi.API, operations=operations).document(order_app.routes)


def test_an_answer_is_documented_by_the_model_that_builds_it() -> None:
    class Pong(BaseModel):
        pong: int

    operations = {**order_openapi.API.operations,
                  "healthz": Operation("Ping", answers={200: Answer("Pong.", Pong)})}
    document = replace(order_openapi.API, operations=operations).document(order_app.routes)
    answer = document["paths"]["/healthz"]["get"]["responses"]["200"]
    schema = schema_of(document, answer["content"]["application/json"]["schema"])
    assert schema["properties"] == {"pong": {"type": "integer"}}


def test_an_answer_links_to_the_operations_that_may_follow_it_by_their_operation_ids() -> None:
    document = inventory_openapi.API.document(inventory_app.api)
    operation_ids = {operation["operationId"] for item in document["paths"].values()
                     for operation in item.values()}
    held = document["paths"]["/reservations/{orderId}"]["put"]["responses"]["201"]["links"]
    assert {link["operationId"] for link in held.values()} == {
        "getReservation", "confirm", "release"} <= operation_ids
    assert all(link["parameters"] == {"orderId": "$request.path.orderId"}
               for link in held.values())


def test_a_link_to_an_undeclared_operation_cannot_be_documented() -> None:
    operations = dict(inventory_openapi.API.operations)
    reserve = operations["reserve"]
    operations["reserve"] = replace(reserve, answers={**reserve.answers, 201: replace(
        reserve.answers[201], links={"nowhere": Link("no_such_view", {})})})
    with pytest.raises(LookupError, match="no_such_view"):
        replace(inventory_openapi.API, operations=operations).document(inventory_app.api)
