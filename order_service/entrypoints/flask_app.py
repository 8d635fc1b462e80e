"""The order service's HTTP API: each route parses the request, calls one use case, answers."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass

from flask import Blueprint, Flask, Response, current_app, jsonify, request
from sqlalchemy.engine import Engine

from glastonbury import settings, tracing
from glastonbury.auth import ADMIN, ORCHESTRATOR, callers_of, order_messages_key, requires
from glastonbury.client_address import limit_key
from glastonbury.contracts import errors as codes
from glastonbury.contracts import paths
from glastonbury.db import make_engine
from glastonbury.gateway import WsgiGateway
from glastonbury.logs import about_order
from glastonbury.migrate import upgrade
from glastonbury.service_app import service_app, service_routes, serving
from glastonbury.web import (MAX_BODY_BYTES, ApiError, install_client_address, json_object,
                             path_uuid, request_client, validated)
from order_service.adapters.saga_starter import CelerySagaStarter, SagaStarter
from order_service.adapters.tables import SCHEMA
from order_service.adapters.catalogue import Catalogue, HttpCatalogue
from order_service.adapters.rate_limits import (ADDRESS, CUSTOMER, CountedLimits, IntakeLimits,
                                                Refusal)
from order_service.domain.model import (ConflictingOutcome, IdempotencyKeyReused,
                                        NotTheCatalogue, OrderStatus, OverOrderLimit)
from order_service.entrypoints import schemas
from order_service.entrypoints.openapi import API
from order_service.service_layer import services
from order_service.service_layer.outcome_waiters import OutcomeWaiters
from order_service.service_layer.unit_of_work import SqlAlchemyUnitOfWork, UnitOfWork

routes = Blueprint("orders", __name__)
log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Dependencies:
    """What the routes need, chosen once when the app is created."""

    engine: Engine
    unit_of_work: Callable[[], UnitOfWork]   # each of its writes is one statement
    saga_starter: SagaStarter
    reading: Callable[[], UnitOfWork]   # for reads only: takes no write lock
    catalogue: Catalogue | None         # the inventory's prices
    waiters: OutcomeWaiters             # clients waiting for their order to end
    limits: IntakeLimits                # orders per client address and per customer


def create_app(database_url: str | None = None, saga_starter: SagaStarter | None = None,
               catalogue: Catalogue | None = None, tokens: dict[str, str] | None = None,
               limits: IntakeLimits | None = None) -> Flask:
    """The order service's Flask app; creates its tables if missing, connects to no broker yet.

    `catalogue` defaults to the inventory's; `tokens` (by caller) to the environment's;
    `limits` to the settings' counted in Redis."""
    # A connection kept for each request thread (the outcome waits read every few moments).
    engine = make_engine(database_url or settings.database_url("order"),
                         pool_size=settings.ORDER_THREADS.integer())
    upgrade(engine, SCHEMA)
    dependencies = Dependencies(
        # Placing an order and recording its outcome each write with one statement (the order
        # with its lines; a compare-and-set): on PostgreSQL, no BEGIN and COMMIT around them.
        engine, lambda: SqlAlchemyUnitOfWork(engine, one_write=True),
        saga_starter or CelerySagaStarter(settings.redis_url(), order_messages_key()),
        lambda: SqlAlchemyUnitOfWork(engine, read_only=True),
        catalogue or HttpCatalogue(settings.inventory_service_url()),
        OutcomeWaiters(settings.ORDER_WAITING_CLIENTS.integer(),
                       settings.ORDER_WAITING_CLIENTS_PER_ADDRESS.integer()),
        limits or CountedLimits(settings.redis_url(), settings.order_rate_limits()))
    # Anyone may place and read orders: those requests begin their own traces. The
    # orchestrator's calls (a credential's routes) go on in the saga's trace.
    app = service_app(routes, {"order_service": dependencies}, tokens=tokens, errors=ERRORS,
                      public=lambda view: not callers_of(view))
    install_client_address(app)
    return app


def serve() -> WsgiGateway:
    """The app as the HTTP server runs it (`granian --interface rsgi --factory ...:serve`): each
    body is read on granian's event loop within `ORDER_BODY_READ_TIMEOUT` before one of
    `ORDER_THREADS` threads runs the request, so clients that hold their bodies hold no thread."""
    return serving("order", lambda: WsgiGateway(create_app(), settings.ORDER_THREADS.integer(),
                                                MAX_BODY_BYTES,
                                                settings.ORDER_BODY_READ_TIMEOUT.number()))


def _dependencies() -> Dependencies:
    return current_app.extensions["order_service"]  # type: ignore[no-any-return]


@routes.post(paths.ORDERS)
def place_order() -> tuple[Response, int, dict[str, str]]:
    """Store the order PENDING and start its saga: 202 with the order and its Location; 429
    past the client address's or the customer's limit."""
    deps = _dependencies()
    # The address is counted before the body is read: a flood of junk is counted too.
    _within(deps.limits.hit(ADDRESS, limit_key(request_client())))
    body = validated(schemas.PlaceOrderBody, json_object())
    key = validated(schemas.IdempotencyKeyHeader, dict(request.headers)).key
    _within(deps.limits.hit(CUSTOMER, str(body.customer_id)))
    command = services.PlaceOrder(body.customer_id, body.amount,
                                  [item.to_line() for item in body.items], key)
    order = services.place_order(command, deps.unit_of_work(), deps.saga_starter, deps.catalogue)
    tracing.name_order(order.id)   # the order's trace begins here: found by its id
    with about_order(order.id):
        log.info("order accepted: %s, %d tickets, total %s", order.status.value,
                 sum(line.quantity for line in order.lines), order.total)
    location = paths.fill(paths.ORDER, order_id=order.id)
    return jsonify(schemas.order_json(order)), 202, {"Location": location}


@routes.get(paths.ORDERS)
@requires(ORCHESTRATOR, ADMIN)
def list_orders() -> Response:
    """Orders oldest first (by time, then id), filtered by `status` and `createdBefore`, at most
    `limit`; `next` (and the `Link` header) the page after, from its `after` cursor."""
    query = validated(schemas.ListOrdersQuery, request.args.to_dict())
    page = services.list_orders(query.status, query.created_before_utc(), query.limit,
                                _dependencies().reading(), created_after=query.created_after,
                                after=query.after)
    link = query.next_page(page.orders[-1]) if page.more else None
    response = jsonify({"orders": [schemas.order_json(order) for order in page.orders],
                        "next": link})
    if link is not None:
        response.headers["Link"] = f'<{link}>; rel="next"'
    return response


@routes.get(paths.ORDER)
def get_order(order_id: str) -> Response:
    """One order, 404 if unknown, 400 if the id is not a UUID. With `?wait=<seconds>` the answer
    comes once the order has ended or the time is up, whichever is first (a long-poll: no need
    to poll); `Retry-After` says when to ask again if the service could not wait that long."""
    parsed_id = path_uuid(order_id, "orderId")
    wait_s = validated(schemas.GetOrderQuery, request.args.to_dict()).wait
    deps = _dependencies()
    if not wait_s:
        return jsonify(schemas.order_json(services.get_order(parsed_id, deps.reading())))
    began = time.monotonic()
    client = limit_key(request_client())
    order = services.wait_for_outcome(parsed_id, wait_s, deps.reading, deps.waiters, client)
    response = jsonify(schemas.order_json(order))
    if not order.status.is_terminal and time.monotonic() - began < wait_s:
        # Too many clients waiting already (longer for each refusal in a row), or a later wait
        # on the order took over.
        response.headers["Retry-After"] = str(deps.waiters.retry_after_s(client))
    return response


@routes.post(paths.ORDER_OUTCOME)
@requires(ORCHESTRATOR)
def record_outcome(order_id: str) -> Response:
    """The orchestrator reports how the saga ended: 200, or 409 for a different end."""
    parsed_id = path_uuid(order_id, "orderId")
    body = validated(schemas.OutcomeBody, json_object())
    deps = _dependencies()
    order = services.record_outcome(parsed_id, OrderStatus(body.status), body.reason,
                                    deps.unit_of_work(), deps.waiters)
    log.info("outcome recorded: %s", order.status.value)
    return jsonify(schemas.order_json(order))


service_routes(routes, API, lambda: _dependencies().engine)


class OverTheLimit(Exception):
    def __init__(self, refusal: Refusal):
        super().__init__(refusal.limit)
        self.refusal = refusal


def _within(refusal: Refusal | None) -> None:
    if refusal is not None:
        raise OverTheLimit(refusal)


OVER_THE_LIMIT = {ADDRESS: ("(client address)", "Too many orders from your address"),
                  CUSTOMER: ("customerId", "Too many orders for this customer")}


def _over_the_limit(error: OverTheLimit) -> ApiError:
    refusal = error.refusal
    field, what = OVER_THE_LIMIT[refusal.limit]
    return ApiError(429, codes.RATE_LIMITED,
                    f"{what}: at most {refusal.rule}. Try again in {refusal.retry_after_s} s.",
                    [{"field": field, "problem": f"at most {refusal.rule}"}],
                    {"Retry-After": str(refusal.retry_after_s)})


def _not_the_catalogue(error: NotTheCatalogue) -> ApiError:
    details = [{"field": f"items[{p.index}].{p.field}", "problem": p.problem,
                **({"price": float(p.price)} if p.price is not None else {})}
               for p in error.problems]
    return ApiError(422, codes.NOT_THE_CATALOGUE, str(error), details)


def _over_order_limit(error: OverOrderLimit) -> ApiError:
    details = [{"field": f"items[{p.index}].{p.field}", "problem": p.problem, "limit": p.limit}
               for p in error.problems]
    return ApiError(422, codes.OVER_ORDER_LIMIT, str(error), details)


# The service's own exceptions, as the JSON errors it answers them with.
ERRORS = {
    OverTheLimit: _over_the_limit,
    services.OrderNotFound: lambda error: ApiError(404, codes.ORDER_NOT_FOUND, str(error)),
    NotTheCatalogue: _not_the_catalogue,
    OverOrderLimit: _over_order_limit,
    IdempotencyKeyReused: lambda error: ApiError(
        409, codes.IDEMPOTENCY_KEY_REUSED, str(error),
        [{"field": "Idempotency-Key", "problem": "names another order"}]),
    ConflictingOutcome: lambda error: ApiError(409, codes.CONFLICTING_OUTCOME, str(error)),
}
