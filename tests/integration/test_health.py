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
from payment_service.entrypoints.flask_app import create_app as payment_app
from tests.conftest import SERVICE_TOKENS
from tests.unit.order_service.fakes import FakeCatalogue, FakeSagaStarter

# Nothing listens on the discard port: every connection is refused at once.
NO_DATABASE = "postgresql://nobody@127.0.0.1:9/none"


def _order(url: str) -> Flask:
    return order_app(url, FakeSagaStarter(), FakeCatalogue(), SERVICE_TOKENS)


def _on_order(app: Flask, engine: Engine) -> None:
    app.extensions["order_service"] = dataclasses.replace(app.extensions["order_service"],
                                                          engine=engine)


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
