"""The payment service's HTTP API: it only translates between HTTP and the use cases.

Run it with `granian --interface wsgi --factory payment_service.entrypoints.flask_app:create_app`.
"""

from __future__ import annotations

import logging

from flask import Blueprint, Flask, current_app, jsonify, request
from flask.typing import ResponseReturnValue
from sqlalchemy.engine import Engine
from sqlalchemy.exc import OperationalError

from glastonbury import api_docs, logs, settings, tracing
from glastonbury.api_docs import install_api_docs
from glastonbury.logs import about_order
from glastonbury.process import tune_garbage_collector
from glastonbury.db import make_engine
from glastonbury.migrate import upgrade
from glastonbury.auth import ADMIN, ORCHESTRATOR, install_credentials, requires
from glastonbury.web import (ApiError, database_health, error_response, install_json_errors,
                             install_order_trail, json_object, validated)
from payment_service.adapters.relay_wake import RelayNudger
from payment_service.adapters.tables import SCHEMA
from payment_service.entrypoints.openapi import API
from payment_service.entrypoints.schemas import (
    MAX_ORDERS_ASKED,
    ManualDecision,
    PaymentRequest,
    acknowledgement,
    parse_order_id,
    payment_view,
)
from payment_service.domain.model import InvalidTransition
from payment_service.service_layer import services
from payment_service.service_layer.unit_of_work import SqlAlchemyUnitOfWork, UnitOfWork

api = Blueprint("payments", __name__)
log = logging.getLogger(__name__)


def create_app(database_url: str | None = None,
               tokens: dict[str, str] | None = None) -> Flask:
    """The Flask app on `database_url` (default: PAYMENT_DATABASE_URL); creates missing tables.
    `tokens` by caller (default: from the environment)."""
    app = Flask(__name__)
    install_json_errors(app)
    install_credentials(app, tokens)
    install_order_trail(app)
    engine = make_engine(database_url or settings.database_url("payment"))
    upgrade(engine, SCHEMA)
    app.extensions["payment_engine"] = engine
    app.extensions["relay_nudger"] = RelayNudger(settings.payment_relay_wake_address())
    app.register_blueprint(api)
    install_api_docs(app)
    app.register_error_handler(services.PaymentNotFound, _not_found)
    app.register_error_handler(InvalidTransition, _not_decidable)
    app.register_error_handler(OperationalError, _database_down)
    return app


def serve() -> Flask:
    """The app as the HTTP server runs it (`granian --factory ...:serve`)."""
    logs.configure("payment")
    tracing.configure("payment")
    app = create_app()
    tune_garbage_collector()
    return app


def _engine() -> Engine:
    engine: Engine = current_app.extensions["payment_engine"]
    return engine


def _uow(read_only: bool = False) -> UnitOfWork:
    """A unit of work; `read_only` for a read (on PostgreSQL: no BEGIN and ROLLBACK)."""
    return SqlAlchemyUnitOfWork(_engine(), read_only=read_only)


def _not_decidable(error: InvalidTransition) -> ResponseReturnValue:
    return error_response(409, "not_pending", str(error))


def _not_found(error: services.PaymentNotFound) -> ResponseReturnValue:
    return error_response(404, "not_found", f"No payment for order {error}.")


def _database_down(_error: OperationalError) -> ResponseReturnValue:
    # A technical failure the caller should retry, not a bug: 503 rather than 500.
    return error_response(503, "unavailable", "The database does not answer; try again.")


@api.post("/payments")
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
    return jsonify(acknowledgement(payment)), 202, {"Location": f"/payments/{payment.order_id}"}


@api.get("/payments")
@requires(ORCHESTRATOR, ADMIN)
def find_payments() -> ResponseReturnValue:
    """The payments of the orders named by `?orderId=...&orderId=...` (those that exist): how
    the orchestrator checks a payment result against this service's own record."""
    wanted = request.args.getlist("orderId")
    if not 1 <= len(wanted) <= MAX_ORDERS_ASKED:
        raise ApiError(400, "order_ids", f"Name 1 to {MAX_ORDERS_ASKED} orders.",
                       [{"field": "orderId", "problem": f"1 to {MAX_ORDERS_ASKED} values"}])
    found = services.find_payments(_uow(read_only=True),
                                   [parse_order_id(value) for value in wanted])
    return jsonify({"payments": [payment_view(payment) for payment in found]})


@api.get("/payments/<order_id>")
@requires(ORCHESTRATOR, ADMIN)
def get_payment(order_id: str) -> ResponseReturnValue:
    """The order's payment."""
    payment = services.get_payment(_uow(read_only=True), parse_order_id(order_id))
    return jsonify(payment_view(payment))


@api.post("/payments/<order_id>/decide")
@requires(ADMIN)
def decide_payment(order_id: str) -> ResponseReturnValue:
    """The simulated gateway decides a payment it holds, as a person says (demos and tests):
    the decision and its message are stored together and the relay publishes it."""
    body = validated(ManualDecision, json_object())
    payment = services.decide_by_hand(_uow(), parse_order_id(order_id), body.decision(),
                                      settings.payment_results_topic())
    current_app.extensions["relay_nudger"].nudge()
    log.info("payment %s by hand", payment.status.value.lower())
    return jsonify(payment_view(payment))


@api.post("/payments/<order_id>/cancel")
@requires(ORCHESTRATOR)
def cancel_payment(order_id: str) -> ResponseReturnValue:
    """Cancel the order's payment before the gateway decides it (a tombstone if unknown)."""
    payment = services.cancel_payment(_uow(), parse_order_id(order_id))
    log.info("payment %s", payment.status.value.lower())
    return jsonify(payment_view(payment))


@api.post("/payments/<order_id>/refund")
@requires(ORCHESTRATOR)
def refund_payment(order_id: str) -> ResponseReturnValue:
    """Refund the order's approved payment."""
    payment = services.refund_payment(_uow(), parse_order_id(order_id))
    log.info("payment %s", payment.status.value.lower())
    return jsonify(payment_view(payment))


@api.get("/healthz")
def healthz() -> ResponseReturnValue:
    """200 while the database answers, else 503."""
    return jsonify(database_health(_engine()))


@api.get("/openapi.json")
def openapi() -> ResponseReturnValue:
    """The API's OpenAPI 3.1 description."""
    return jsonify(API.document(api))


@api.get("/docs")
def docs() -> ResponseReturnValue:
    """This service's OpenAPI document as a page (Swagger UI, served from here)."""
    return api_docs.page(API.title)
