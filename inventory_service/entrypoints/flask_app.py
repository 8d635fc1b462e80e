"""The inventory's HTTP API: each route parses, calls one use case, and maps its errors.

Run with `granian --interface wsgi --factory inventory_service.entrypoints.flask_app:create_app`.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Flask, Response, current_app, g

from glastonbury import settings
from glastonbury.process import tune_garbage_collector
from glastonbury.db import create_schema, make_engine
from glastonbury.web import error_response, install_json_errors, json_object, validated
from inventory_service.adapters.tables import metadata
from inventory_service.domain.exceptions import InventoryError
from inventory_service.entrypoints import openapi
from inventory_service.entrypoints.errors import api_error, parse_uuid
from inventory_service.entrypoints.schemas import (
    NewTicket,
    ReservationRequest,
    reservation_json,
    ticket_json,
)
from inventory_service.service_layer import services
from inventory_service.service_layer.unit_of_work import SqlAlchemyUnitOfWork

api = Blueprint("inventory", __name__)
Answer = tuple[dict[str, Any], int] | tuple[dict[str, Any], int, dict[str, str]]


def create_app(database_url: str | None = None) -> Flask:
    """The app on `database_url` (default `INVENTORY_DATABASE_URL`), schema created and seeded."""
    engine = make_engine(database_url or settings.database_url("inventory"))
    create_schema(engine, metadata)
    services.seed_default_tickets(SqlAlchemyUnitOfWork(engine))
    app = Flask(__name__)
    install_json_errors(app)
    app.extensions["inventory_engine"] = engine
    app.register_blueprint(api)
    return app


def serve() -> Flask:
    """The app as the HTTP server runs it (`granian --factory ...:serve`)."""
    app = create_app()
    tune_garbage_collector()
    return app


def _uow() -> SqlAlchemyUnitOfWork:
    return SqlAlchemyUnitOfWork(current_app.extensions["inventory_engine"])


@api.app_errorhandler(InventoryError)
def _refused(error: InventoryError) -> Response:
    # A reserve's request lets the details name the offending items (`items[2].quantity`).
    answer = api_error(error, g.get("reservation_request"))
    return error_response(answer.status, answer.code, answer.message, answer.details)


@api.get("/healthz")
def healthz() -> Answer:
    """Liveness: the process answers."""
    return {"status": "ok"}, 200


@api.get("/openapi.json")
def openapi_document() -> Answer:
    """The OpenAPI 3.1 description of this API."""
    return openapi.DOCUMENT, 200


@api.get("/tickets")
def list_tickets() -> Answer:
    """Every ticket with its stock."""
    return {"tickets": [ticket_json(t) for t in services.list_tickets(_uow())]}, 200


@api.get("/tickets/<ticket_id>")
def get_ticket(ticket_id: str) -> Answer:
    """One ticket with its stock."""
    ticket = services.get_ticket(_uow(), parse_uuid(ticket_id, "ticketId"))
    return ticket_json(ticket), 200


@api.post("/tickets")
def create_ticket() -> Answer:
    """Add a kind of ticket with its stock."""
    new = validated(NewTicket, json_object())
    ticket = services.create_ticket(_uow(), new.name, new.available, new.id)
    return ticket_json(ticket), 201, {"Location": f"/tickets/{ticket.id}"}


@api.put("/reservations/<order_id>")
def reserve(order_id: str) -> Answer:
    """Hold the order's tickets, all or nothing; a repeat answers the existing reservation."""
    order = parse_uuid(order_id, "orderId")
    g.reservation_request = validated(ReservationRequest, json_object())
    reservation, created = services.reserve(_uow(), order, g.reservation_request.lines())
    return reservation_json(reservation), 201 if created else 200


@api.post("/reservations/<order_id>/release")
def release(order_id: str) -> Answer:
    """Release the order's tickets (the compensation of reserve)."""
    reservation = services.release(_uow(), parse_uuid(order_id, "orderId"))
    return reservation_json(reservation), 200


@api.post("/reservations/<order_id>/confirm")
def confirm(order_id: str) -> Answer:
    """Confirm the order's held tickets as sold."""
    reservation = services.confirm(_uow(), parse_uuid(order_id, "orderId"))
    return reservation_json(reservation), 200


@api.get("/reservations/<order_id>")
def get_reservation(order_id: str) -> Answer:
    """The order's reservation."""
    reservation = services.get_reservation(_uow(), parse_uuid(order_id, "orderId"))
    return reservation_json(reservation), 200
