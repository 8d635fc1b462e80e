"""The payment service's HTTP API: it only translates between HTTP and the use cases.

Run it with `granian --interface wsgi --factory payment_service.entrypoints.flask_app:serve`.
"""

from __future__ import annotations

import logging

from flask import Blueprint, Flask, current_app, jsonify, request
from flask.typing import ResponseReturnValue

from glastonbury import settings, tracing
from glastonbury.auth import ADMIN, ORCHESTRATOR, requires
from glastonbury.contracts import errors as codes
from glastonbury.contracts import paths
from glastonbury.db import make_engine
from glastonbury.logs import about_order
from glastonbury.migrate import upgrade
from glastonbury.service_app import service_app, service_engine, service_routes, serving
from glastonbury.web import ApiError, json_object, path_uuid, validated
from payment_service.adapters.relay_wake import RelayNudger
from payment_service.adapters.tables import SCHEMA
from payment_service.entrypoints.openapi import API
from payment_service.entrypoints.schemas import (MAX_ORDERS_ASKED, ManualDecision,
                                                 PaymentRequest, acknowledgement, payment_view)
from payment_service.domain.model import InvalidTransition, Payment
from payment_service.service_layer import services
from payment_service.service_layer.unit_of_work import SqlAlchemyUnitOfWork, UnitOfWork

api = Blueprint("payments", __name__)
log = logging.getLogger(__name__)


def create_app(database_url: str | None = None,
               tokens: dict[str, str] | None = None) -> Flask:
    """The Flask app on `database_url` (default: PAYMENT_DATABASE_URL); creates missing tables.
    `tokens` by caller (default: from the environment)."""
    engine = make_engine(database_url or settings.database_url("payment"))
    upgrade(engine, SCHEMA)
    # Amounts are read as JSON numbers by the schemas' own validators (schemas.PaymentRequest).
    return service_app(
        api, {"relay_nudger": RelayNudger(settings.PAYMENT_RELAY_WAKE_ADDRESS.text())},
        engine=engine,
        tokens=tokens, decimal_json=False, errors={
            services.PaymentNotFound: lambda error: ApiError(
                404, codes.PAYMENT_NOT_FOUND, f"No payment for order {error}."),
            InvalidTransition: lambda error: ApiError(409, codes.NOT_PENDING, str(error)),
        })


def serve() -> Flask:
    """The app as the HTTP server runs it (`granian --factory ...:serve`)."""
    return serving("payment", create_app)


def _uow(read_only: bool = False) -> UnitOfWork:
    """A unit of work; `read_only` for a read (on PostgreSQL: no BEGIN and ROLLBACK)."""
    return SqlAlchemyUnitOfWork(service_engine(), read_only=read_only)


def order_id_of(text: str) -> str:
    """The path's (or query's) order id in canonical form, or a 400 if it is not a UUID."""
    return str(path_uuid(text, "orderId"))


service_routes(api, API)


@api.post(paths.PAYMENTS)
@requires(ORCHESTRATOR)
def request_payment() -> ResponseReturnValue:
    """Accept a payment for the gateway to decide later; the order id makes it idempotent."""
    body = validated(PaymentRequest, json_object())
    payment, created = services.request_payment(
        _uow(), str(body.orderId), str(body.customerId), body.amount, tracing.traceparent())
    if created:  # committed: the gateway (the relay) can decide it now
        current_app.extensions["relay_nudger"].nudge()
    with about_order(payment.order_id):
        log.info("payment of %s %s", body.amount, "requested" if created else "requested again")
    # 202 for a repeat too: the contract promises one answer, whatever the payment's status.
    location = paths.fill(paths.PAYMENT, order_id=payment.order_id)
    return jsonify(acknowledgement(payment)), 202, {"Location": location}


@api.get(paths.PAYMENTS)
@requires(ORCHESTRATOR, ADMIN)
def find_payments() -> ResponseReturnValue:
    """The payments of the orders named by `?orderId=...&orderId=...` (those that exist): how
    the orchestrator checks a payment result against this service's own record."""
    wanted = request.args.getlist("orderId")
    if not 1 <= len(wanted) <= MAX_ORDERS_ASKED:
        raise ApiError(400, codes.ORDER_IDS, f"Name 1 to {MAX_ORDERS_ASKED} orders.",
                       [{"field": "orderId", "problem": f"1 to {MAX_ORDERS_ASKED} values"}])
    found = services.find_payments(_uow(read_only=True),
                                   [order_id_of(value) for value in wanted])
    return jsonify({"payments": [payment_view(payment) for payment in found]})


@api.get(paths.PAYMENT)
@requires(ORCHESTRATOR, ADMIN)
def get_payment(order_id: str) -> ResponseReturnValue:
    """The order's payment."""
    payment = services.get_payment(_uow(read_only=True), order_id_of(order_id))
    return jsonify(payment_view(payment))


@api.post("/payments/<order_id>/decide")
@requires(ADMIN)
def decide_payment(order_id: str) -> ResponseReturnValue:
    """The simulated gateway decides a payment it holds, as a person says (demos and tests):
    the decision and its message are stored together and the relay publishes it."""
    body = validated(ManualDecision, json_object())
    payment = services.decide_by_hand(_uow(), order_id_of(order_id), body.decision(),
                                      settings.PAYMENT_RESULTS_TOPIC.text())
    current_app.extensions["relay_nudger"].nudge()
    log.info("payment %s by hand", payment.status.value.lower())
    return jsonify(payment_view(payment))


@api.post(paths.PAYMENT_CANCEL)
@requires(ORCHESTRATOR)
def cancel_payment(order_id: str) -> ResponseReturnValue:
    """Cancel the order's payment before the gateway decides it (a tombstone if unknown)."""
    return _moved(services.cancel_payment(_uow(), order_id_of(order_id)))


@api.post(paths.PAYMENT_REFUND)
@requires(ORCHESTRATOR)
def refund_payment(order_id: str) -> ResponseReturnValue:
    """Refund the order's approved payment."""
    return _moved(services.refund_payment(_uow(), order_id_of(order_id)))


def _moved(payment: Payment) -> ResponseReturnValue:
    """The order's payment as a use case moved it on: logged and answered."""
    log.info("payment %s", payment.status.value.lower())
    return jsonify(payment_view(payment))
