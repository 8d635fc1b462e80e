"""The order service on a real database (SQLite, and PostgreSQL when configured)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from flask.testing import FlaskClient

from order_service.adapters.rate_limits import CountedLimits
from order_service.entrypoints.flask_app import create_app
from tests.conftest import SERVICE_TOKENS, trusted
from tests.unit.order_service.fakes import FakeCatalogue, FakeSagaStarter


@pytest.fixture
def saga_starter() -> FakeSagaStarter:
    return FakeSagaStarter()


@pytest.fixture
def client(database_url: str, saga_starter: FakeSagaStarter) -> Iterator[FlaskClient]:
    # No limit on the orders these tests place (test_intake_limits sets its own).
    app = create_app(database_url, saga_starter, FakeCatalogue(), SERVICE_TOKENS,
                     CountedLimits("memory://", {}))
    # Not `with app.test_client()`: that keeps a context per thread, and tests use threads.
    yield trusted(app.test_client())
    app.extensions["order_service"].engine.dispose()  # PostgreSQL drops the database next
