"""The payment service's OpenAPI 3.1 document: each route's operation, declared once.

Paths, methods and credentials are the routes' own (flask_app), schemas the models' (schemas);
`glastonbury.openapi` builds the document from them.
"""

from __future__ import annotations

from uuid import UUID

from glastonbury.contracts import errors as codes
from glastonbury.openapi import (DOCS_PAGE, HEALTH, THIS_DOCUMENT, Answer, Api, Link,
                                 Operation, PathId)
from payment_service.entrypoints import schemas

# Any call that reaches the database (flask_app's handler of OperationalError).
UNAVAILABLE = {503: f"The database does not answer; retry later (`{codes.UNAVAILABLE}`)."}
NOT_FOUND = f"The order has no payment (`{codes.PAYMENT_NOT_FOUND}`)."
PAYMENT = {200: Answer("The payment.", schemas.Payment)}

# What may follow a payment asked for: read it, decide it by hand, cancel or refund it.
PAYMENT_LINKS = {name: Link(view, {"orderId": "$response.body#/orderId"})
                 for name, view in (("read", "get_payment"), ("decide", "decide_payment"),
                                    ("cancel", "cancel_payment"), ("refund", "refund_payment"))}

API = Api(
    "Glastonbury payment service",
    "Payments for festival ticket orders, decided asynchronously by a simulated gateway; "
    "decisions are published on Kafka.",
    path_ids={"orderId": PathId(UUID, "The order whose payment this is.")},
    operations={
        "request_payment": Operation(
            "Request a payment; the gateway decides it later. Idempotent by orderId.",
            body=schemas.PaymentRequest,
            answers={202: Answer("Accepted, or the order's existing payment whatever its status.",
                                 schemas.PaymentAcknowledgement,
                                 headers={"Location": "/payments/{orderId}"},
                                 links=PAYMENT_LINKS)},
            errors=UNAVAILABLE),
        "find_payments": Operation(
            "The payments of the orders named (those that exist): how the orchestrator checks "
            "a payment result against this service's record.",
            answers={200: Answer("The payments found.", schemas.PaymentList)},
            errors={400: f"An order id is not a UUID (`{codes.MALFORMED_ID}`), or none or more "
                         f"than {schemas.MAX_ORDERS_ASKED} (`{codes.ORDER_IDS}`).",
                    **UNAVAILABLE},
            # Read without a model: the route answers 400 (not 422) for them.
            parameters=[{"name": "orderId", "in": "query", "required": True,
                         "schema": {"type": "array", "items": {"type": "string",
                                                               "format": "uuid"},
                                    "minItems": 1, "maxItems": schemas.MAX_ORDERS_ASKED},
                         "style": "form", "explode": True}]),
        "get_payment": Operation("The order's payment.", answers=PAYMENT,
                                 errors={404: NOT_FOUND, **UNAVAILABLE}),
        "decide_payment": Operation(
            "The simulated gateway decides a PENDING payment by hand (demos, tests); the "
            "decision is published like any other.",
            answers=PAYMENT, body=schemas.ManualDecision,
            errors={404: NOT_FOUND, 409: f"The payment is not PENDING (`{codes.NOT_PENDING}`).",
                    **UNAVAILABLE}),
        "cancel_payment": Operation(
            "PENDING becomes CANCELLED; an unknown order gets a CANCELLED tombstone; other "
            "statuses are unchanged.", answers=PAYMENT, errors=UNAVAILABLE),
        "refund_payment": Operation(
            "APPROVED becomes REFUNDED; other statuses are unchanged.", answers=PAYMENT,
            errors={404: NOT_FOUND, **UNAVAILABLE}),
        "healthz": HEALTH,
        "openapi": THIS_DOCUMENT,
        "docs": DOCS_PAGE,
    })
