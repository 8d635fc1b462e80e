"""An app and an engine on a fresh database (SQLite, and PostgreSQL when configured)."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy.engine import Engine

from glastonbury.db import make_engine
from glastonbury.migrate import upgrade
from payment_service.adapters.tables import SCHEMA
from payment_service.entrypoints.flask_app import create_app
from payment_service.service_layer.unit_of_work import SqlAlchemyUnitOfWork
from tests.conftest import SERVICE_TOKENS, trusted


@pytest.fixture
def app(database_url: str) -> Iterator[Flask]:
    """The payment API on a fresh database."""
    app = create_app(database_url, SERVICE_TOKENS)
    yield app
    app.extensions["engine"].dispose()


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    """A test client of the payment API, with the service credential."""
    return trusted(app.test_client())


@pytest.fixture
def edge_client(tmp_path: Path) -> Iterator[FlaskClient]:
    """A client for requests refused before any database work (bad ids, bodies, methods).

    They behave the same on every backend, and a fresh PostgreSQL database per case costs
    seconds, so they run on SQLite only.
    """
    app = create_app(f"sqlite:///{tmp_path / 'edge.db'}", SERVICE_TOKENS)
    yield trusted(app.test_client())
    app.extensions["engine"].dispose()


@pytest.fixture
def engine(database_url: str) -> Iterator[Engine]:
    """An engine on a fresh database with the payment tables."""
    engine = make_engine(database_url)
    upgrade(engine, SCHEMA)
    yield engine
    engine.dispose()


def uow(engine: Engine) -> SqlAlchemyUnitOfWork:
    """A unit of work on the engine: a new one at each call, so threads never share one."""
    return SqlAlchemyUnitOfWork(engine)


def new_id() -> str:
    """A fresh random id, so no two tests share an order or a customer."""
    return str(uuid.uuid4())
