"""An inventory app on a fresh database (SQLite, and PostgreSQL when TEST_DATABASE_URL is set)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from flask import Flask
from flask.testing import FlaskClient

from inventory_service.entrypoints.flask_app import create_app
from tests.conftest import SERVICE_TOKENS, trusted


@pytest.fixture
def app(database_url: str) -> Iterator[Flask]:
    app = create_app(database_url, SERVICE_TOKENS)
    yield app
    app.extensions["engine"].dispose()


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return trusted(app.test_client())
