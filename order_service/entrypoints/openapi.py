"""The order service's OpenAPI 3.1 document: each route's operation, declared once.

Paths, methods and credentials are the routes' own (flask_app), schemas the models' (schemas);
`glastonbury.openapi` builds the document from them.
"""

from __future__ import annotations

from glastonbury.contracts import errors as codes
from glastonbury.openapi import (DOCS_PAGE, HEALTH, THIS_DOCUMENT, Answer, Api, Link, Operation,
                                 PathId, error_schema)
from order_service.entrypoints import schemas

ORDER_NOT_FOUND = f"No such order (`{codes.ORDER_NOT_FOUND}`)."

API = Api(
    "Glastonbury order service",
    "Takes ticket orders at the catalogue's prices and starts their sagas.",
    path_ids={"orderId": PathId(schemas.Uuid)},
    error=error_schema(price={"type": "number", "description": "The catalogue's price of the "
                                                               "line's ticket."},
                       limit={"type": "integer", "description": "The most one order may ask "
                                                                "of the line's ticket."}),
    operations={
        "place_order": Operation(
            "Place an order and start its saga",
            body=schemas.PlaceOrderBody, headers=schemas.IdempotencyKeyHeader,
            answers={202: Answer("Stored PENDING; the saga decides the rest.", schemas.Order,
                                 headers={"Location": "/orders/{id}"}, links={
                                     "read": Link("get_order", {"orderId": "$response.body#/id"}),
                                     "outcome": Link("record_outcome",
                                                     {"orderId": "$response.body#/id"})})},
            errors={409: "The customer's `Idempotency-Key` already names another order: this "
                         "body is not the one first sent with it "
                         f"(`{codes.IDEMPOTENCY_KEY_REUSED}`; `details` names `Idempotency-Key`). "
                         "The same body again is answered 202 with the order it placed.",
                    422: "A line names a ticket the catalogue does not have or does not sell, "
                         f"or another price than the catalogue's (`{codes.NOT_THE_CATALOGUE}`): "
                         "`details` names each such line, `items[i].id` for the ticket, "
                         "`items[i].amount` with the catalogue's `price` for the price. Or the "
                         "order asks more of a ticket, its lines added, than one order may "
                         f"(`{codes.OVER_ORDER_LIMIT}`); `details` names the ticket's first line's "
                         "`quantity`, with the `limit`. Schema-valid bodies may be refused so: "
                         "JSON Schema cannot say what the catalogue holds.",
                    429: "Too many orders from the client's address or for the customer "
                         f"(`{codes.RATE_LIMITED}`); `details` names the limit (`customerId`, or "
                         "`(client address)`) and `Retry-After` the seconds until one more "
                         "order is taken."}),
        "list_orders": Operation(
            "Orders, oldest first (by creation time, then id), a page at a time",
            query=schemas.ListOrdersQuery,
            answers={200: Answer("The orders; `next` links to the page after, if any.",
                                 schemas.OrderList, headers={
                                     "Link": "`<the next page>; rel=\"next\"`, the body's "
                                             "`next`: sent when an order follows this page."})}),
        "get_order": Operation(
            "One order; with `wait`, once it has ended (a long-poll)",
            query=schemas.GetOrderQuery,
            answers={200: Answer("The order.", schemas.Order, headers={
                "Retry-After": "Seconds to wait before asking again: sent when the service "
                               "could not wait as long as asked (too many clients wait, "
                               "from this address or in all, or a later wait on the order "
                               "took over)."})},
            errors={404: ORDER_NOT_FOUND}),
        "record_outcome": Operation(
            "Record the order's outcome (the orchestrator only)", body=schemas.OutcomeBody,
            answers={200: Answer("Recorded, or the same outcome again (a no-op).",
                                 schemas.Order)},
            errors={404: ORDER_NOT_FOUND,
                    409: "The order already ended with another outcome "
                         f"(`{codes.CONFLICTING_OUTCOME}`)."}),
        "healthz": HEALTH,
        "openapi": THIS_DOCUMENT,
        "docs": DOCS_PAGE,
    })
