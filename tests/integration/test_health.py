"""`GET /healthz` answers the same in the three services: ok while the database answers, a JSON
503 when it does not."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from flask import Flask
from sqlalchemy.engine import Engine

from glastonbury.db import make_engine
from inventory_service.entrypoints.flask_app import create_app as inventory_app
from order_service.entrypoints.flask_app import create_app as order_app
from order_service.service_layer.unit_of_work import SqlAlchemyUnitOfWork
from payment_service.entrypoints.flask_app import create_app as payment_app
from tests.conftest import SERVICE_TOKENS, TRUSTED
from tests.unit.order_service.fakes import FakeCatalogue, FakeSagaStarter

# Nothing listens on the discard port: every connection is refused at once.
NO_DATABASE = "postgresql://nobody@127.0.0.1:9/none"


def _order(url: str) -> Flask:
    return order_app(url, FakeSagaStarter(), FakeCatalogue(), SERVICE_TOKENS)


def _on_order(app: Flask, engine: Engine) -> None:
    app.extensions["order_service"] = dataclasses.replace(
        app.extensions["order_service"], engine=engine,
        unit_of_work=lambda: SqlAlchemyUnitOfWork(engine),
        reading=lambda: SqlAlchemyUnitOfWork(engine, read_only=True))


def _on(key: str) -> Callable[[Flask, Engine], None]:
    def swap(app: Flask, engine: Engine) -> None:
        app.extensions[key] = engine
    return swap


SERVICES = {
    "order": (_order, _on_order),
    "inventory": (lambda url: inventory_app(url, SERVICE_TOKENS), _on("engine")),
    "payment": (lambda url: payment_app(url, SERVICE_TOKENS), _on("engine")),
}


@pytest.fixture(params=list(SERVICES))
def service(request: pytest.FixtureRequest,
            tmp_path: Path) -> Iterator[tuple[Flask, Callable[[Engine], None]]]:
    make, swap = SERVICES[request.param]
    app = make(f"sqlite:///{tmp_path / 'service.db'}")
    yield app, lambda engine: swap(app, engine)


def test_health_is_ok_while_the_database_answers(service) -> None:
    app, _ = service
    response = app.test_client().get("/healthz")
    assert (response.status_code, response.get_json()) == (200, {"status": "ok"})


def test_health_is_a_json_503_when_the_database_does_not_answer(service) -> None:
    app, use_engine = service
    gone = make_engine(NO_DATABASE)
    use_engine(gone)
    try:
        response = app.test_client().get("/healthz")
    finally:
        gone.dispose()
    assert response.status_code == 503
    assert response.get_json()["error"] == "unavailable"
    assert set(response.get_json()) == {"error", "message", "details"}


# A route of each service that reads its database (found by the chaos run on PostgreSQL: while
# the server restarted, the order service answered these 500, as if it had a bug).
AN_ORDER = "0b85bf2f-de60-4202-b94b-1cb88d6c0786"
READING_ROUTES = {"order": f"/orders/{AN_ORDER}", "inventory": "/tickets",
                  "payment": f"/payments/{AN_ORDER}"}


@pytest.mark.parametrize("name", list(READING_ROUTES))
def test_a_request_while_the_database_is_down_is_a_json_503_to_retry_later(
        name: str, tmp_path: Path) -> None:
    make, swap = SERVICES[name]
    app = make(f"sqlite:///{tmp_path / 'service.db'}")
    gone = make_engine(NO_DATABASE)
    swap(app, gone)
    try:
        response = app.test_client().get(READING_ROUTES[name], headers=TRUSTED)
    finally:
        gone.dispose()
    assert response.status_code == 503, response.get_json()
    assert response.get_json()["error"] == "unavailable"
    assert int(response.headers["Retry-After"]) >= 1
