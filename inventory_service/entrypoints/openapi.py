"""The OpenAPI 3.1 description of the inventory API, written by hand to match the routes."""

from __future__ import annotations

from typing import Any

from inventory_service.adapters.tables import MAX_AVAILABLE, NAME_LENGTH
from inventory_service.entrypoints.schemas import MAX_ITEMS, MAX_QUANTITY

UUID_STRING = {"type": "string", "format": "uuid"}


def _ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


def _json(description: str, schema: dict[str, Any]) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


def _error(description: str) -> dict[str, Any]:
    return _json(description, _ref("Error"))


def _path_id(name: str) -> dict[str, Any]:
    return {"name": name, "in": "path", "required": True, "schema": UUID_STRING}


def _operation(summary: str, responses: dict[str, Any], *, path_id: str | None = None,
               body: str | None = None) -> dict[str, Any]:
    operation: dict[str, Any] = {"summary": summary, "responses": dict(responses)}
    if path_id:
        operation["parameters"] = [_path_id(path_id)]
        operation["responses"]["400"] = _error(f"{path_id} is not a UUID (`malformed_id`).")
    if body:
        operation["requestBody"] = {"required": True,
                                    "content": {"application/json": {"schema": _ref(body)}}}
        operation["responses"].update(BODY_ERRORS)
        if path_id:
            operation["responses"]["400"] = _error(
                f"{path_id} is not a UUID (`malformed_id`), or the body is not JSON (`malformed_json`).")
    return operation


BODY_ERRORS = {
    "400": _error("The body is not valid JSON (`malformed_json`)."),
    "413": _error("The body is larger than 64 KiB."),
    "415": _error("The body is not sent as application/json."),
    "422": _error("The body does not fit the schema (`validation_failed`); details name each field."),
}

SCHEMAS: dict[str, Any] = {
    "Error": {
        "type": "object",
        "required": ["error", "message", "details"],
        "properties": {
            "error": {"type": "string", "description": "A stable code, e.g. `out_of_stock`."},
            "message": {"type": "string"},
            "details": {"type": "array", "items": {
                "type": "object",
                "required": ["field", "problem"],
                "properties": {
                    "field": {"type": "string", "examples": ["items[0].quantity"]},
                    "problem": {"type": "string"},
                    "ticketId": UUID_STRING,
                    "requested": {"type": "integer"},
                    "available": {"type": "integer"},
                },
            }},
        },
    },
    "Ticket": {
        "type": "object",
        "required": ["id", "name", "available"],
        "properties": {
            "id": UUID_STRING,
            "name": {"type": "string", "minLength": 1, "maxLength": NAME_LENGTH},
            "available": {"type": "integer", "minimum": 0, "maximum": MAX_AVAILABLE},
        },
    },
    "NewTicket": {
        "type": "object",
        "required": ["name", "available"],
        "properties": {
            "id": {**UUID_STRING, "description": "Chosen by the server when absent."},
            "name": {"type": "string", "minLength": 1, "maxLength": NAME_LENGTH},
            "available": {"type": "integer", "minimum": 0, "maximum": MAX_AVAILABLE},
        },
    },
    "TicketList": {
        "type": "object",
        "required": ["tickets"],
        "properties": {"tickets": {"type": "array", "items": _ref("Ticket")}},
    },
    "ReservationItem": {
        "type": "object",
        "required": ["ticketId", "quantity"],
        "properties": {
            "ticketId": UUID_STRING,
            "quantity": {"type": "integer", "minimum": 1, "maximum": MAX_QUANTITY},
        },
    },
    "ReservationRequest": {
        "type": "object",
        "required": ["items"],
        "properties": {"items": {"type": "array", "minItems": 1, "maxItems": MAX_ITEMS,
                                 "items": _ref("ReservationItem")}},
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
    "/healthz": {"get": _operation("Liveness", {"200": _json("Alive.", _ref("Health"))})},
    "/openapi.json": {"get": _operation("This document", {
        "200": _json("The OpenAPI document.", {"type": "object"})})},
    "/tickets": {
        "get": _operation("Every ticket with its stock", {
            "200": _json("The tickets, by name.", _ref("TicketList"))}),
        "post": _operation("Add a kind of ticket", {
            "201": {**_json("Created.", _ref("Ticket")),
                    "headers": {"Location": {"schema": {"type": "string"}}}},
            "409": _error("A ticket with this id exists (`ticket_exists`)."),
        }, body="NewTicket"),
    },
    "/tickets/{ticketId}": {"get": _operation("One ticket with its stock", {
        "200": _json("The ticket.", _ref("Ticket")),
        "404": _error("No such ticket (`ticket_not_found`)."),
    }, path_id="ticketId")},
    "/reservations/{orderId}": {
        "get": _operation("The order's reservation", {
            "200": _json("The reservation.", _ref("Reservation")),
            "404": _error("The order has no reservation (`reservation_not_found`)."),
        }, path_id="orderId"),
        "put": _operation("Hold the order's tickets, all or nothing", {
            "200": _json("The order's HELD or CONFIRMED reservation, unchanged.", _ref("Reservation")),
            "201": _json("Held now.", _ref("Reservation")),
            "409": _error("Nothing held: `out_of_stock` (details name each short ticket), "
                          "`unknown_ticket`, or `reservation_released` (compensated already)."),
        }, path_id="orderId", body="ReservationRequest"),
    },
    "/reservations/{orderId}/release": {"post": _operation(
        "Release the order's tickets; an unknown order is remembered as RELEASED", {
            "200": _json("RELEASED (again, or as a tombstone).", _ref("Reservation")),
            "409": _error("The reservation is confirmed (`already_confirmed`)."),
        }, path_id="orderId")},
    "/reservations/{orderId}/confirm": {"post": _operation("Confirm the order's held tickets", {
        "200": _json("CONFIRMED (now or before).", _ref("Reservation")),
        "404": _error("The order has no reservation (`reservation_not_found`)."),
        "409": _error("The reservation was released (`reservation_released`)."),
    }, path_id="orderId")},
}

DOCUMENT: dict[str, Any] = {
    "openapi": "3.1.0",
    "info": {"title": "Glastonbury inventory service", "version": "1.0.0",
             "description": "Tickets in stock and the reservations orders hold on them. "
                            "Every 4xx body is an `Error`."},
    "paths": PATHS,
    "components": {"schemas": SCHEMAS},
}
