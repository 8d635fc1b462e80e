"""The inventory's HTTP API: each route parses, calls one use case, and maps its errors.

Run with `granian --interface wsgi --factory inventory_service.entrypoints.flask_app:serve`.
Reads of the catalogue are public; every write, and a reservation's details, need a service
credential (glastonbury.auth).
"""

from __future__ import annotations

import logging
from typing import Any

from flask import Blueprint, Flask, g, request

from glastonbury import settings
from glastonbury.auth import ADMIN, ORCHESTRATOR, requires
from glastonbury.contracts import errors as codes
from glastonbury.contracts import paths
from glastonbury.db import make_engine
from glastonbury.migrate import upgrade
from glastonbury.service_app import service_app, service_engine, service_routes, serving
from glastonbury.web import ApiError, json_object, path_uuid, validated
from inventory_service.adapters.tables import SCHEMA
from inventory_service.domain.exceptions import InventoryError
from inventory_service.domain.model import Reservation
from inventory_service.entrypoints.errors import api_error
from inventory_service.entrypoints.openapi import API
from inventory_service.entrypoints.schemas import (MAX_TICKETS_ASKED, NewLimits, NewPrice,
                                                   NewTicket, ReservationRequest,
                                                   reservation_json, ticket_json)
from inventory_service.service_layer import services
from inventory_service.service_layer.unit_of_work import SqlAlchemyUnitOfWork, UnitOfWork

api = Blueprint("inventory", __name__)
log = logging.getLogger(__name__)
Answer = tuple[dict[str, Any], int] | tuple[dict[str, Any], int, dict[str, str]]


def create_app(database_url: str | None = None,
               tokens: dict[str, str] | None = None) -> Flask:
    """The app on `database_url` (default `INVENTORY_DATABASE_URL`), schema created and seeded;
    `tokens` by caller (default: from the environment)."""
    engine = make_engine(database_url or settings.database_url("inventory"))
    upgrade(engine, SCHEMA)
    services.seed_default_tickets(SqlAlchemyUnitOfWork(engine))
    return service_app(api, {}, engine=engine, tokens=tokens, errors={InventoryError: _refused})


def serve() -> Flask:
    """The app as the HTTP server runs it (`granian --factory ...:serve`)."""
    return serving("inventory", create_app)


def _uow() -> UnitOfWork:
    return SqlAlchemyUnitOfWork(service_engine())


def _refused(error: InventoryError) -> ApiError:
    # A reserve's request lets the details name the offending items (`items[2].quantity`).
    answer = api_error(error, g.get("reservation_request"))
    log.info("refused (%s): %s", answer.code, answer.message)
    return answer


service_routes(api, API, document_view="openapi_document")


@api.get(paths.TICKETS)
def list_tickets() -> Answer:
    """Every ticket with its stock, price and limits, or only those named by `?id=...&id=...`."""
    wanted = request.args.getlist("id")
    if len(wanted) > MAX_TICKETS_ASKED:
        raise ApiError(400, codes.TOO_MANY_IDS, f"Ask for at most {MAX_TICKETS_ASKED} tickets.",
                       [{"field": "id", "problem": f"at most {MAX_TICKETS_ASKED} values"}])
    ids = [path_uuid(value, "id") for value in wanted] or None
    return {"tickets": [ticket_json(t) for t in services.list_tickets(_uow(), ids)]}, 200


@api.get(paths.TICKET)
def get_ticket(ticket_id: str) -> Answer:
    """One ticket with its stock."""
    ticket = services.get_ticket(_uow(), path_uuid(ticket_id, "ticketId"))
    return ticket_json(ticket), 200


@api.post(paths.TICKETS)
@requires(ADMIN)
def create_ticket() -> Answer:
    """Add a kind of ticket with its stock, price and limits (6 and 6 unless given)."""
    new = validated(NewTicket, json_object())
    ticket = services.create_ticket(_uow(), new.name, new.available, new.id, new.price,
                                    new.limits())
    return ticket_json(ticket), 201, {"Location": paths.fill(paths.TICKET, ticket_id=ticket.id)}


@api.put("/tickets/<ticket_id>/price")
@requires(ADMIN)
def set_price(ticket_id: str) -> Answer:
    """Change what a ticket costs; orders placed at the old price are refused from now on."""
    ticket_uuid = path_uuid(ticket_id, "ticketId")
    new = validated(NewPrice, json_object())
    return ticket_json(services.set_price(_uow(), ticket_uuid, new.price)), 200


@api.put("/tickets/<ticket_id>/limits")
@requires(ADMIN)
def set_limits(ticket_id: str) -> Answer:
    """Change what one order may ask of a ticket and one customer hold of it, for the orders
    reserved from now on."""
    ticket_uuid = path_uuid(ticket_id, "ticketId")
    new = validated(NewLimits, json_object())
    return ticket_json(services.set_limits(_uow(), ticket_uuid, new.limits())), 200


@api.put(paths.RESERVATION)
@requires(ORCHESTRATOR)
def reserve(order_id: str) -> Answer:
    """Hold the order's tickets at the catalogue's prices and within their limits, all or
    nothing; a repeat answers the existing reservation."""
    order = path_uuid(order_id, "orderId")
    g.reservation_request = asked = validated(ReservationRequest, json_object())
    reservation, created = services.reserve(_uow(), asked.hold_request(order))
    log.info("tickets %s%s", reservation.status.value.lower(), "" if created else " (a repeat)")
    return reservation_json(reservation), 201 if created else 200


@api.post(paths.RESERVATION_RELEASE)
@requires(ORCHESTRATOR)
def release(order_id: str) -> Answer:
    """Release the order's tickets (the compensation of reserve)."""
    return _moved(services.release(_uow(), path_uuid(order_id, "orderId")))


@api.post(paths.RESERVATION_CONFIRM)
@requires(ORCHESTRATOR)
def confirm(order_id: str) -> Answer:
    """Confirm the order's held tickets as sold."""
    # One compare-and-set and a read: on PostgreSQL, no BEGIN and COMMIT around them.
    confirming = SqlAlchemyUnitOfWork(service_engine(), one_write=True)
    return _moved(services.confirm(confirming, path_uuid(order_id, "orderId")))


def _moved(reservation: Reservation) -> Answer:
    """The order's reservation as a use case moved it on: logged and answered."""
    log.info("tickets %s", reservation.status.value.lower())
    return reservation_json(reservation), 200


@api.get(paths.RESERVATION)
@requires(ORCHESTRATOR, ADMIN)
def get_reservation(order_id: str) -> Answer:
    """The order's reservation."""
    reservation = services.get_reservation(_uow(), path_uuid(order_id, "orderId"))
    return reservation_json(reservation), 200
