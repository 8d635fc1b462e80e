"""The inventory service's OpenAPI 3.1 document: each route's operation, declared once.

Paths, methods and credentials are the routes' own (flask_app), schemas the models' (schemas);
`glastonbury.openapi` builds the document from them.
"""

from __future__ import annotations

from uuid import UUID

from pydantic import BaseModel

from glastonbury.contracts import errors as codes
from glastonbury.openapi import (DOCS_PAGE, HEALTH, THIS_DOCUMENT, Answer, Api, Link, Operation,
                                 PathId, error_schema)
from inventory_service.entrypoints import schemas

TICKET_NOT_FOUND = f"No such ticket (`{codes.TICKET_NOT_FOUND}`)."
RESERVATION_NOT_FOUND = f"The order has no reservation (`{codes.RESERVATION_NOT_FOUND}`)."
UUID_TEXT = {"type": "string", "format": "uuid"}

# What may follow a reservation made now: read, confirm or release it.
RESERVATION_LINKS = {name: Link(view, {"orderId": "$request.path.orderId"})
                     for name, view in (("read", "get_reservation"), ("confirm", "confirm"),
                                        ("release", "release"))}

def ticket_change(summary: str, body: type[BaseModel], what: str) -> Operation:
    """An admin's change of a ticket: the ticket with its new `what`, or 404."""
    return Operation(summary, body=body,
                     answers={200: Answer(f"The ticket with its new {what}.", schemas.Ticket)},
                     errors={404: TICKET_NOT_FOUND})


API = Api(
    "Glastonbury inventory service",
    "Tickets in stock and the reservations orders hold on them. Every 4xx body is an `Error`.",
    path_ids={"ticketId": PathId(UUID), "orderId": PathId(UUID)},
    error=error_schema(ticketId=UUID_TEXT, name={"type": "string"},
                       requested={"type": "integer"}, available={"type": "integer"},
                       held={"type": "integer"}, limit={"type": "integer"},
                       orderedAt={"type": "number"}, price={"type": ["number", "null"]}),
    operations={
        "healthz": HEALTH,
        "openapi_document": THIS_DOCUMENT,
        "docs": DOCS_PAGE,
        "list_tickets": Operation(
            "Every ticket with its stock, price and limits, or those asked for",
            answers={200: Answer("The tickets, by name.", schemas.TicketList)},
            errors={400: f"An id is not a UUID (`{codes.MALFORMED_ID}`), or more than "
                         f"{schemas.MAX_TICKETS_ASKED} (`{codes.TOO_MANY_IDS}`)."},
            # Read without a model: the route answers 400 (not 422) for them.
            parameters=[{"name": "id", "in": "query", "required": False,
                         "schema": {"type": "array", "items": UUID_TEXT,
                                    "maxItems": schemas.MAX_TICKETS_ASKED},
                         "style": "form", "explode": True}]),
        "create_ticket": Operation(
            "Add a kind of ticket with its stock, price and limits", body=schemas.NewTicket,
            answers={201: Answer("Created.", schemas.Ticket, headers={
                "Location": "/tickets/{id}"})},
            errors={409: f"A ticket with this id exists (`{codes.TICKET_EXISTS}`)."}),
        "get_ticket": Operation(
            "One ticket with its stock, price and limits",
            answers={200: Answer("The ticket.", schemas.Ticket)},
            errors={404: TICKET_NOT_FOUND}),
        "set_price": ticket_change("Change what a ticket costs", schemas.NewPrice, "price"),
        "set_limits": ticket_change(
            "Change what one order may ask of a ticket and one customer hold of it",
            schemas.NewLimits, "limits"),
        "get_reservation": Operation(
            "The order's reservation",
            answers={200: Answer("The reservation.", schemas.Reservation)},
            errors={404: RESERVATION_NOT_FOUND}),
        "reserve": Operation(
            "Hold the order's tickets, all or nothing", body=schemas.ReservationRequest,
            answers={200: Answer("The order's HELD or CONFIRMED reservation, unchanged.",
                                 schemas.Reservation),
                     201: Answer("Held now.", schemas.Reservation, links=RESERVATION_LINKS)},
            errors={409: f"Nothing held: `{codes.OUT_OF_STOCK}` (details name each short "
                         f"ticket), `{codes.OVER_ORDER_LIMIT}` (the order asks more of a ticket "
                         "than one order may; details name it and the `limit`), "
                         f"`{codes.OVER_CUSTOMER_LIMIT}` (the customer would hold more of a "
                         "ticket than one customer may; details name it, the `limit` and what "
                         f"they hold), `{codes.UNKNOWN_TICKET}`, `{codes.PRICE_CHANGED}` (details "
                         "name each line and its catalogue price), or "
                         f"`{codes.RESERVATION_RELEASED}` (compensated already)."}),
        "release": Operation(
            "Release the order's tickets; an unknown order is remembered as RELEASED",
            answers={200: Answer("RELEASED (again, or as a tombstone).", schemas.Reservation)},
            errors={409: f"The reservation is confirmed (`{codes.ALREADY_CONFIRMED}`)."}),
        "confirm": Operation(
            "Confirm the order's held tickets",
            answers={200: Answer("CONFIRMED (now or before).", schemas.Reservation)},
            errors={404: RESERVATION_NOT_FOUND,
                    409: f"The reservation was released (`{codes.RESERVATION_RELEASED}`)."}),
    })
