"""The OpenAPI 3.1 description of the inventory API, written by hand to match the routes."""

from __future__ import annotations

from typing import Any

from glastonbury.auth import ADMIN, ORCHESTRATOR
from glastonbury.openapi import (
    BODY_ERRORS,
    document,
    error_answer,
    error_responses,
    error_schema,
    json_body,
    json_response,
    ref,
    secured,
)
from glastonbury.web import TEXT_PATTERN
from inventory_service.adapters.tables import MAX_AVAILABLE, MAX_PRICE, NAME_LENGTH
from inventory_service.entrypoints.schemas import MAX_ITEMS, MAX_QUANTITY

UUID_STRING = {"type": "string", "format": "uuid"}
NAME = {"type": "string", "minLength": 1, "maxLength": NAME_LENGTH, "pattern": TEXT_PATTERN}
# JSON Schema counts 1.0 as an integer; the service reads counts strictly, as written.
WHOLE = "Written as a JSON integer: `1.0`, `true` and `\"1\"` are refused."
PRICE = {"type": "number", "minimum": 0, "maximum": MAX_PRICE, "multipleOf": 0.01,
         "description": "What one ticket costs, with at most 2 decimals."}


def _path_id(name: str) -> dict[str, Any]:
    return {"name": name, "in": "path", "required": True, "schema": UUID_STRING}


def _operation(summary: str, responses: dict[str, Any], *, path_id: str | None = None,
               body: str | None = None) -> dict[str, Any]:
    operation: dict[str, Any] = {"summary": summary, "responses": dict(responses)}
    if path_id:
        operation["parameters"] = [_path_id(path_id)]
        operation["responses"]["400"] = error_answer(f"{path_id} is not a UUID (`malformed_id`).")
    if body:
        operation["requestBody"] = json_body(body)
        operation["responses"].update(error_responses(BODY_ERRORS))
        if path_id:
            operation["responses"]["400"] = error_answer(
                f"{path_id} is not a UUID (`malformed_id`), "
                "or the body is not JSON (`malformed_json`).")
    return operation


SCHEMAS: dict[str, Any] = {
    "Error": error_schema(ticketId=UUID_STRING, requested={"type": "integer"},
                          available={"type": "integer"}, orderedAt={"type": "number"},
                          price={"type": ["number", "null"]}),
    "Ticket": {
        "type": "object",
        "required": ["id", "name", "available", "price"],
        "properties": {
            "id": UUID_STRING,
            "name": NAME,
            "available": {"type": "integer", "minimum": 0, "maximum": MAX_AVAILABLE,
                          "description": WHOLE},
            "price": {"type": ["number", "null"],
                      "description": "What one ticket costs; null: not for sale."},
        },
    },
    "NewTicket": {
        "type": "object",
        "required": ["name", "available", "price"],
        "properties": {
            "id": {**UUID_STRING, "description": "Chosen by the server when absent."},
            "name": NAME,
            "available": {"type": "integer", "minimum": 0, "maximum": MAX_AVAILABLE,
                          "description": WHOLE},
            "price": PRICE,
        },
    },
    "NewPrice": {"type": "object", "required": ["price"], "properties": {"price": PRICE}},
    "TicketList": {
        "type": "object",
        "required": ["tickets"],
        "properties": {"tickets": {"type": "array", "items": ref("Ticket")}},
    },
    "ReservationItem": {
        "type": "object",
        "required": ["ticketId", "quantity"],
        "properties": {
            "ticketId": UUID_STRING,
            "quantity": {"type": "integer", "minimum": 1, "maximum": MAX_QUANTITY,
                         "description": WHOLE},
            "unitPrice": {**PRICE, "description": "The price the order was placed at: if "
                          "given, it must be the catalogue's (`price_changed`)."},
        },
    },
    "ReservationRequest": {
        "type": "object",
        "required": ["items"],
        "properties": {"items": {"type": "array", "minItems": 1, "maxItems": MAX_ITEMS,
                                 "items": ref("ReservationItem")}},
        "description": "Items of the same ticket are added together. Unknown fields are ignored.",
    },
    "Reservation": {
        "type": "object",
        "required": ["orderId", "status", "items"],
        "properties": {
            "orderId": UUID_STRING,
            "status": {"type": "string", "enum": ["HELD", "CONFIRMED", "RELEASED"]},
            "items": {"type": "array", "items": {
                "type": "object",
                "required": ["ticketId", "quantity"],
                "properties": {"ticketId": UUID_STRING,
                               "quantity": {"type": "integer", "minimum": 1}},
            }, "description": "One item a ticket; empty for the tombstone of an unknown order."},
        },
    },
    "Health": {
        "type": "object",
        "required": ["status"],
        "properties": {"status": {"type": "string", "const": "ok"}},
    },
}

PATHS: dict[str, Any] = {
    "/healthz": {"get": _operation("Liveness", {"200": json_response(ref("Health"), "Alive.")})},
    "/tickets": {
        "get": {**_operation("Every ticket with its stock and price, or those asked for", {
            "200": json_response(ref("TicketList"), "The tickets, by name."),
            "400": error_answer("An id is not a UUID (`malformed_id`), or more than 100 "
                                "(`too_many_ids`)."),
        }), "parameters": [{"name": "id", "in": "query", "required": False,
                            "schema": {"type": "array", "items": UUID_STRING, "maxItems": 100},
                            "style": "form", "explode": True}]},
        "post": secured(_operation("Add a kind of ticket with its stock and price", {
            "201": {**json_response(ref("Ticket"), "Created."),
                    "headers": {"Location": {"schema": {"type": "string"}}}},
            "409": error_answer("A ticket with this id exists (`ticket_exists`)."),
        }, body="NewTicket"), ADMIN),
    },
    "/tickets/{ticketId}": {"get": _operation("One ticket with its stock and price", {
        "200": json_response(ref("Ticket"), "The ticket."),
        "404": error_answer("No such ticket (`ticket_not_found`)."),
    }, path_id="ticketId")},
    "/tickets/{ticketId}/price": {"put": secured(_operation("Change what a ticket costs", {
        "200": json_response(ref("Ticket"), "The ticket with its new price."),
        "404": error_answer("No such ticket (`ticket_not_found`)."),
    }, path_id="ticketId", body="NewPrice"), ADMIN)},
    "/reservations/{orderId}": {
        "get": secured(_operation("The order's reservation", {
            "200": json_response(ref("Reservation"), "The reservation."),
            "404": error_answer("The order has no reservation (`reservation_not_found`)."),
        }, path_id="orderId"), ORCHESTRATOR, ADMIN),
        "put": secured(_operation("Hold the order's tickets, all or nothing", {
            "200": json_response(ref("Reservation"),
                                 "The order's HELD or CONFIRMED reservation, unchanged."),
            "201": json_response(ref("Reservation"), "Held now."),
            "409": error_answer("Nothing held: `out_of_stock` (details name each short ticket), "
                                "`unknown_ticket`, `price_changed` (details name each line and "
                                "its catalogue price), or `reservation_released` (compensated "
                                "already)."),
        }, path_id="orderId", body="ReservationRequest"), ORCHESTRATOR),
    },
    "/reservations/{orderId}/release": {"post": secured(_operation(
        "Release the order's tickets; an unknown order is remembered as RELEASED", {
            "200": json_response(ref("Reservation"), "RELEASED (again, or as a tombstone)."),
            "409": error_answer("The reservation is confirmed (`already_confirmed`)."),
        }, path_id="orderId"), ORCHESTRATOR)},
    "/reservations/{orderId}/confirm": {"post": secured(_operation(
        "Confirm the order's held tickets", {
            "200": json_response(ref("Reservation"), "CONFIRMED (now or before)."),
            "404": error_answer("The order has no reservation (`reservation_not_found`)."),
            "409": error_answer("The reservation was released (`reservation_released`)."),
        }, path_id="orderId"), ORCHESTRATOR)},
}

DOCUMENT: dict[str, Any] = document(
    "Glastonbury inventory service",
    "Tickets in stock and the reservations orders hold on them. Every 4xx body is an `Error`.",
    PATHS, SCHEMAS)
