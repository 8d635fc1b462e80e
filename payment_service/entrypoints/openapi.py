"""The payment API's OpenAPI 3.1 document, written by hand to match `flask_app` exactly."""

from __future__ import annotations

from typing import Any

STATUSES = ["PENDING", "APPROVED", "DECLINED", "CANCELLED", "REFUNDED"]
UUID = {"type": "string", "format": "uuid"}
NULLABLE_TIME = {"type": ["string", "null"], "format": "date-time"}


def _ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


def _json(schema: dict[str, Any], description: str) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


def _error(description: str) -> dict[str, Any]:
    return _json(_ref("Error"), description)


ORDER_ID_PARAMETER = {
    "name": "orderId", "in": "path", "required": True, "schema": UUID,
    "description": "The order whose payment this is; a malformed id answers 400.",
}

SCHEMAS: dict[str, Any] = {
    "PaymentRequest": {
        "type": "object",
        "required": ["orderId", "customerId", "amount"],
        "properties": {
            "orderId": UUID,
            "customerId": UUID,
            "amount": {"type": "number", "exclusiveMinimum": 0, "maximum": 999999999999.99,
                       "multipleOf": 0.01, "description": "At most 2 decimals."},
        },
        "description": "Unknown fields are ignored.",
    },
    "PaymentAcknowledgement": {
        "type": "object",
        "required": ["paymentId", "orderId", "status"],
        "properties": {"paymentId": UUID, "orderId": UUID,
                       "status": {"type": "string", "enum": STATUSES}},
    },
    "Payment": {
        "type": "object",
        "required": ["paymentId", "orderId", "customerId", "amount", "status", "reason",
                     "createdAt", "decidedAt"],
        "properties": {
            "paymentId": UUID,
            "orderId": UUID,
            "customerId": {"type": ["string", "null"], "format": "uuid",
                           "description": "Null for a CANCELLED tombstone."},
            "amount": {"type": ["number", "null"], "description": "Null for a tombstone."},
            "status": {"type": "string", "enum": STATUSES},
            "reason": {"type": ["string", "null"]},
            "createdAt": {"type": "string", "format": "date-time"},
            "decidedAt": NULLABLE_TIME,
        },
    },
    "Health": {
        "type": "object",
        "required": ["status"],
        "properties": {"status": {"type": "string", "enum": ["ok", "unavailable"]},
                       "database": {"type": "string"}},
    },
    "Error": {
        "type": "object",
        "required": ["error", "message", "details"],
        "properties": {
            "error": {"type": "string"},
            "message": {"type": "string"},
            "details": {"type": "array", "items": {
                "type": "object", "required": ["field", "problem"],
                "properties": {"field": {"type": "string"}, "problem": {"type": "string"}}}},
        },
    },
}

UNAVAILABLE = {"503": _error("The database does not answer; retry later.")}
PAYMENT_ANSWERS = {"200": _json(_ref("Payment"), "The payment."),
                   "400": _error("The order id is not a UUID."), **UNAVAILABLE}

PATHS: dict[str, Any] = {
    "/payments": {"post": {
        "operationId": "requestPayment",
        "summary": "Request a payment; the gateway decides it later. Idempotent by orderId.",
        "requestBody": {"required": True,
                        "content": {"application/json": {"schema": _ref("PaymentRequest")}}},
        "responses": {
            "202": {**_json(_ref("PaymentAcknowledgement"),
                            "Accepted, or the order's existing payment whatever its status."),
                    "headers": {"Location": {"schema": {"type": "string"}}}},
            "400": _error("The body is not valid JSON."),
            "413": _error("The body is over 64 KiB."),
            "415": _error("The body is not application/json."),
            "422": _error("The body does not match the schema; details name each field."),
            **UNAVAILABLE,
        },
    }},
    "/payments/{orderId}": {"get": {
        "operationId": "getPayment",
        "summary": "The order's payment.",
        "parameters": [ORDER_ID_PARAMETER],
        "responses": {**PAYMENT_ANSWERS, "404": _error("The order has no payment.")},
    }},
    "/payments/{orderId}/cancel": {"post": {
        "operationId": "cancelPayment",
        "summary": "PENDING becomes CANCELLED; an unknown order gets a CANCELLED tombstone; "
                   "other statuses are unchanged.",
        "parameters": [ORDER_ID_PARAMETER],
        "responses": PAYMENT_ANSWERS,
    }},
    "/payments/{orderId}/refund": {"post": {
        "operationId": "refundPayment",
        "summary": "APPROVED becomes REFUNDED; other statuses are unchanged.",
        "parameters": [ORDER_ID_PARAMETER],
        "responses": {**PAYMENT_ANSWERS, "404": _error("The order has no payment.")},
    }},
    "/healthz": {"get": {
        "operationId": "health",
        "summary": "Whether the service can reach its database.",
        "responses": {"200": _json(_ref("Health"), "Healthy."),
                      "503": _json(_ref("Health"), "The database is unreachable.")},
    }},
    "/openapi.json": {"get": {
        "operationId": "openapi",
        "summary": "This document.",
        "responses": {"200": _json({"type": "object"}, "The OpenAPI 3.1 document.")},
    }},
}

OPENAPI: dict[str, Any] = {
    "openapi": "3.1.0",
    "info": {"title": "Glastonbury payment service", "version": "1.0.0",
             "description": "Payments for festival ticket orders, decided asynchronously by a "
                            "simulated gateway; decisions are published on Kafka."},
    "paths": PATHS,
    "components": {"schemas": SCHEMAS},
}
