"""An order service app on a throw-away SQLite file, with a fake saga starter."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from flask import Flask
from flask.testing import FlaskClient

from order_service.entrypoints.flask_app import create_app
from tests.conftest import SERVICE_TOKENS, trusted
from tests.unit.order_service.fakes import FakeCatalogue, FakeSagaStarter


@pytest.fixture(scope="module")
def saga_starter() -> FakeSagaStarter:
    return FakeSagaStarter()


@pytest.fixture(scope="module")
def app(tmp_path_factory: pytest.TempPathFactory, saga_starter: FakeSagaStarter) -> Flask:
    database = tmp_path_factory.mktemp("order_service") / "orders.db"
    return create_app(f"sqlite:///{database}", saga_starter, FakeCatalogue(), SERVICE_TOKENS)


@pytest.fixture(scope="module")
def client(app: Flask) -> Iterator[FlaskClient]:
    with trusted(app.test_client()) as client:
        yield client
