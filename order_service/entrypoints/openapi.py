"""The order service's OpenAPI 3.1 document, written by hand to match the routes exactly."""

from __future__ import annotations

from typing import Any

from glastonbury.auth import ADMIN, ORCHESTRATOR
from glastonbury.openapi import (
    BODY_ERRORS,
    document,
    error_responses,
    json_body,
    json_response,
    ref,
    secured,
)
from glastonbury.web import TEXT_PATTERN
from order_service.entrypoints.schemas import (
    IDEMPOTENCY_KEY_PATTERN,
    MAX_AMOUNT,
    MAX_QUANTITY,
    UUID_PATTERN,
)

STATUSES = ["PENDING", "COMPLETED", "REJECTED", "PAYMENT_FAILED"]
UUID = {"type": "string", "format": "uuid", "pattern": UUID_PATTERN}
AMOUNT = {"type": "number", "minimum": 0, "maximum": float(MAX_AMOUNT), "multipleOf": 0.01,
          "description": "At most 2 decimals, as written in the JSON text."}
TIMESTAMP = {"type": "string", "format": "date-time", "description": "ISO 8601, UTC"}

ERRORS = {
    400: "Malformed JSON, or a malformed order id in the path.",
    404: "No such order or route.",
    409: "The order already ended with another outcome (`conflicting_outcome`); or the "
         "customer's `Idempotency-Key` already names another order (`idempotency_key_reused`).",
    413: BODY_ERRORS[413],
    415: BODY_ERRORS[415],
    422: "A field is missing or invalid (`validation_failed`), or a line names a ticket that "
         "does not exist or is not for sale, or another price than the catalogue's "
         "(`not_the_catalogue`); `details` names each one, with the catalogue's `price`.",
    503: "The database does not answer.",
}


def _errors(*statuses: int) -> dict[str, Any]:
    return error_responses({status: ERRORS[status] for status in statuses})


ORDER_ID = {"name": "orderId", "in": "path", "required": True, "schema": UUID}

SCHEMAS: dict[str, Any] = {
    "OrderItemRequest": {
        "type": "object",
        "required": ["id", "name", "amount", "quantity"],
        "properties": {
            "id": UUID,
            "name": {"type": "string", "minLength": 1, "maxLength": 200, "pattern": TEXT_PATTERN},
            "amount": AMOUNT,
            "quantity": {"type": "integer", "minimum": 1, "maximum": MAX_QUANTITY},
        },
    },
    "OrderRequest": {
        "type": "object",
        "required": ["customerId", "amount", "items"],
        "properties": {
            "customerId": UUID,
            "amount": AMOUNT,
            "items": {"type": "array", "minItems": 1, "maxItems": 50,
                      "items": ref("OrderItemRequest")},
        },
    },
    "OrderItem": {
        "type": "object",
        "required": ["id", "name", "amount", "quantity"],
        "properties": {"id": UUID, "name": {"type": "string"}, "amount": {"type": "number"},
                       "quantity": {"type": "integer"}},
    },
    "Order": {
        "type": "object",
        "required": ["id", "status", "reason", "customerId", "amount", "total", "items",
                     "createdAt", "updatedAt"],
        "properties": {
            "id": UUID,
            "status": {"type": "string", "enum": STATUSES},
            "reason": {"type": ["string", "null"], "description": "Why the order failed."},
            "customerId": UUID,
            "amount": {"type": "number", "description": "The declared amount, as sent."},
            "total": {"type": "number", "description": "Sum of amount x quantity."},
            "items": {"type": "array", "items": ref("OrderItem")},
            "createdAt": TIMESTAMP,
            "updatedAt": TIMESTAMP,
        },
    },
    "OrderList": {"type": "object", "required": ["orders"],
                  "properties": {"orders": {"type": "array", "items": ref("Order")}}},
    "Outcome": {
        "type": "object",
        "required": ["status"],
        "properties": {
            "status": {"type": "string", "enum": STATUSES[1:]},
            "reason": {"anyOf": [{"type": "string", "maxLength": 500, "pattern": TEXT_PATTERN},
                                 {"type": "null"}]},
        },
    },
    "Health": {"type": "object", "required": ["status"],
               "properties": {"status": {"type": "string", "const": "ok"}}},
}

PLACE_ORDER = {
    "summary": "Place an order and start its saga",
    "operationId": "placeOrder",
    "parameters": [{
        "name": "Idempotency-Key", "in": "header", "required": False,
        "description": "The customer's own key: sent again with the same order, it returns "
                       "that order instead of placing another; with another order, 409.",
        "schema": {"type": "string", "pattern": IDEMPOTENCY_KEY_PATTERN},
    }],
    "requestBody": json_body("OrderRequest"),
    "responses": {
        "202": {**json_response(ref("Order"), "Stored PENDING; the saga decides the rest."),
                "headers": {"Location": {"description": "/orders/{id}",
                                         "schema": {"type": "string"}}}},
        **_errors(*BODY_ERRORS, 409),
    },
}

LIST_ORDERS = {
    "summary": "Orders, oldest first",
    "operationId": "listOrders",
    "parameters": [
        {"name": "status", "in": "query", "schema": {"type": "string", "enum": STATUSES}},
        {"name": "createdBefore", "in": "query", "schema": TIMESTAMP,
         "description": "Only orders created before this time; without an offset, UTC."},
        {"name": "createdAfter", "in": "query", "schema": TIMESTAMP,
         "description": "Only orders created at or after this time (the next page)."},
        {"name": "limit", "in": "query",
         "schema": {"type": "integer", "minimum": 1, "maximum": 1000, "default": 100}},
    ],
    "responses": {"200": json_response(ref("OrderList"), "The orders."), **_errors(422)},
}

GET_ORDER = {
    "summary": "One order; with `wait`, once it has ended (a long-poll)",
    "operationId": "getOrder",
    "parameters": [ORDER_ID, {
        "name": "wait", "in": "query", "required": False,
        "description": "Seconds to wait for the order to end before answering: the answer "
                       "comes when it ends or when the time is up, whichever is first. 0 (the "
                       "default) answers at once. Wait this way instead of polling.",
        "schema": {"type": "number", "minimum": 0, "maximum": 30, "default": 0},
    }],
    "responses": {
        "200": {**json_response(ref("Order"), "The order."),
                "headers": {"Retry-After": {
                    "description": "Seconds to wait before asking again: sent when the service "
                                   "could not wait as long as asked (too many clients wait).",
                    "schema": {"type": "string"}}}},
        **_errors(400, 404, 422),
    },
}

RECORD_OUTCOME = {
    "summary": "Record the order's outcome (the orchestrator only)",
    "operationId": "recordOutcome",
    "parameters": [ORDER_ID],
    "requestBody": json_body("Outcome"),
    "responses": {
        "200": json_response(ref("Order"), "Recorded, or the same outcome again (a no-op)."),
        **_errors(*BODY_ERRORS, 404, 409),
    },
}

HEALTH = {
    "summary": "Whether the service and its database answer",
    "operationId": "health",
    "responses": {"200": json_response(ref("Health"), "Healthy."), **_errors(503)},
}


def openapi_document() -> dict[str, Any]:
    """The whole OpenAPI 3.1 document of the order service."""
    return document(
        "Glastonbury order service",
        "Takes ticket orders at the catalogue's prices and starts their sagas.",
        {
            "/orders": {"post": PLACE_ORDER, "get": secured(LIST_ORDERS, ORCHESTRATOR, ADMIN)},
            "/orders/{orderId}": {"get": GET_ORDER},
            "/orders/{orderId}/outcome": {"post": secured(RECORD_OUTCOME, ORCHESTRATOR)},
            "/healthz": {"get": HEALTH},
        },
        SCHEMAS)
