"""The payment API's OpenAPI 3.1 document, written by hand to match `flask_app` exactly."""

from __future__ import annotations

from typing import Any

from glastonbury.auth import ADMIN, ORCHESTRATOR
from glastonbury.openapi import (
    BODY_ERRORS,
    document,
    error_answer,
    error_responses,
    json_body,
    json_response,
    ref,
    secured,
)

STATUSES = ["PENDING", "APPROVED", "DECLINED", "CANCELLED", "REFUNDED"]
UUID = {"type": "string", "format": "uuid"}
NULLABLE_TIME = {"type": ["string", "null"], "format": "date-time"}

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
    "PaymentList": {
        "type": "object",
        "required": ["payments"],
        "properties": {"payments": {"type": "array", "items": ref("Payment")}},
    },
    "ManualDecision": {
        "type": "object",
        "required": ["status"],
        "properties": {"status": {"type": "string", "enum": ["APPROVED", "DECLINED"]},
                       "reason": {"type": ["string", "null"], "maxLength": 500,
                                  "pattern": "^[^\\u0000]*$"}},
    },
    "Health": {
        "type": "object",
        "required": ["status"],
        "properties": {"status": {"type": "string", "enum": ["ok", "unavailable"]},
                       "database": {"type": "string"}},
    },
}

UNAVAILABLE = {"503": error_answer("The database does not answer; retry later.")}
PAYMENT_ANSWERS = {"200": json_response(ref("Payment"), "The payment."),
                   "400": error_answer("The order id is not a UUID."), **UNAVAILABLE}

PATHS: dict[str, Any] = {
    "/payments": {
        "post": secured({
            "operationId": "requestPayment",
            "summary": "Request a payment; the gateway decides it later. Idempotent by orderId.",
            "requestBody": json_body("PaymentRequest"),
            "responses": {
                "202": {**json_response(
                    ref("PaymentAcknowledgement"),
                    "Accepted, or the order's existing payment whatever its status."),
                        "headers": {"Location": {"schema": {"type": "string"}}}},
                **error_responses(BODY_ERRORS),
                **UNAVAILABLE,
            },
        }, ORCHESTRATOR),
        "get": secured({
            "operationId": "findPayments",
            "summary": "The payments of the orders named (those that exist): how the "
                       "orchestrator checks a payment result against this service's record.",
            "parameters": [{"name": "orderId", "in": "query", "required": True,
                            "schema": {"type": "array", "items": UUID, "minItems": 1,
                                       "maxItems": 100},
                            "style": "form", "explode": True}],
            "responses": {"200": json_response(ref("PaymentList"), "The payments found."),
                          "400": error_answer("An order id is not a UUID (`malformed_id`), or "
                                              "none or more than 100 (`order_ids`)."),
                          **UNAVAILABLE},
        }, ORCHESTRATOR, ADMIN),
    },
    "/payments/{orderId}": {"get": secured({
        "operationId": "getPayment",
        "summary": "The order's payment.",
        "parameters": [ORDER_ID_PARAMETER],
        "responses": {**PAYMENT_ANSWERS, "404": error_answer("The order has no payment.")},
    }, ORCHESTRATOR, ADMIN)},
    "/payments/{orderId}/decide": {"post": secured({
        "operationId": "decidePayment",
        "summary": "The simulated gateway decides a PENDING payment by hand (demos, tests); "
                   "the decision is published like any other.",
        "parameters": [ORDER_ID_PARAMETER],
        "requestBody": json_body("ManualDecision"),
        "responses": {**PAYMENT_ANSWERS, **error_responses(BODY_ERRORS),
                      "400": error_answer("The order id is not a UUID, or the body is not "
                                          "JSON."),
                      "404": error_answer("The order has no payment."),
                      "409": error_answer("The payment is not PENDING (`not_pending`).")},
    }, ADMIN)},
    "/payments/{orderId}/cancel": {"post": secured({
        "operationId": "cancelPayment",
        "summary": "PENDING becomes CANCELLED; an unknown order gets a CANCELLED tombstone; "
                   "other statuses are unchanged.",
        "parameters": [ORDER_ID_PARAMETER],
        "responses": PAYMENT_ANSWERS,
    }, ORCHESTRATOR)},
    "/payments/{orderId}/refund": {"post": secured({
        "operationId": "refundPayment",
        "summary": "APPROVED becomes REFUNDED; other statuses are unchanged.",
        "parameters": [ORDER_ID_PARAMETER],
        "responses": {**PAYMENT_ANSWERS, "404": error_answer("The order has no payment.")},
    }, ORCHESTRATOR)},
    "/healthz": {"get": {
        "operationId": "health",
        "summary": "Whether the service can reach its database.",
        "responses": {"200": json_response(ref("Health"), "Healthy."),
                      "503": json_response(ref("Health"), "The database is unreachable.")},
    }},
}

OPENAPI: dict[str, Any] = document(
    "Glastonbury payment service",
    "Payments for festival ticket orders, decided asynchronously by a simulated gateway; "
    "decisions are published on Kafka.",
    PATHS, SCHEMAS)
