"""The migrations, on SQLite and PostgreSQL: they build what the models describe, from nothing,
from a database made before migrations, and beside the other services in one database."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from decimal import Decimal

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import inspect, text
from sqlalchemy.engine import Engine

from glastonbury.db import make_engine
from glastonbury.migrate import (
    BASELINE,
    SERVICES,
    current_revision,
    downgrade,
    head_revision,
    include_only,
    service_options,
    upgrade,
)


@pytest.fixture
def engine(database_url: str) -> Iterator[Engine]:
    engine = make_engine(database_url)
    yield engine
    engine.dispose()


def differences(engine: Engine, service: str) -> list[object]:
    """What autogenerate would write for the service: nothing, when models and migrations agree."""
    metadata, version_table = service_options(service)
    with engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={
            "version_table": version_table, "compare_type": True,
            "include_object": include_only(metadata)})
        return list(compare_metadata(context, metadata))


def revision(engine: Engine, service: str) -> str | None:
    with engine.connect() as connection:
        return current_revision(connection, service)


@pytest.mark.parametrize("service", SERVICES)
def test_the_migrations_build_what_the_models_describe(engine: Engine, service: str) -> None:
    upgrade(engine, service)
    assert revision(engine, service) == head_revision(service)
    assert differences(engine, service) == []


def test_the_check_notices_a_schema_that_drifted_from_the_models(engine: Engine) -> None:
    upgrade(engine, "order")
    with engine.begin() as connection:
        connection.execute(text("DROP INDEX ix_orders_created_at"))
    assert [difference[0] for difference in differences(engine, "order")] == ["add_index"]


def test_four_services_share_one_database_each_with_its_own_history(engine: Engine) -> None:
    for service in SERVICES:
        upgrade(engine, service)
    for service in SERVICES:
        assert revision(engine, service) == head_revision(service)
        assert differences(engine, service) == [], f"{service} sees its neighbours' tables"


@pytest.mark.parametrize("service", SERVICES)
def test_every_migration_goes_down_to_nothing_and_back_up(engine: Engine, service: str) -> None:
    upgrade(engine, service)
    downgrade(engine, service, "base")
    metadata, _ = service_options(service)
    assert not set(inspect(engine).get_table_names()) & set(metadata.tables)
    upgrade(engine, service)
    assert differences(engine, service) == []


@pytest.mark.parametrize("service", SERVICES)
def test_a_database_made_before_migrations_is_taken_up_with_its_rows(engine: Engine,
                                                                     service: str) -> None:
    # As every process's `create_all` made it before migrations: the baseline, no version table.
    upgrade(engine, service, revision=BASELINE)
    _, version_table = service_options(service)
    with engine.begin() as connection:
        connection.execute(text(f"DROP TABLE {version_table}"))
        connection.execute(text("CREATE TABLE canary (id INTEGER PRIMARY KEY)"))
        connection.execute(text("INSERT INTO canary VALUES (1)"))
    upgrade(engine, service)
    assert revision(engine, service) == head_revision(service)
    assert differences(engine, service) == []
    with engine.connect() as connection:
        assert connection.execute(text("SELECT id FROM canary")).scalar() == 1


def test_an_inventory_from_before_prices_gets_the_price_column_and_the_day_one_price(
        engine: Engine) -> None:
    upgrade(engine, "inventory", revision=BASELINE)
    with engine.begin() as connection:
        connection.execute(text(
            "INSERT INTO tickets (id, name, available) VALUES (:day_one, 'day-one', 10), "
            "(:other, 'other', 5)"), {"day_one": "8d2b34e1ad2c4b2d8cde9d3c8e7a6b10",
                                      "other": "1f0e2d3c4b5a69788796a5b4c3d2e1f0"})
    upgrade(engine, "inventory")
    with engine.connect() as connection:
        prices = dict(connection.execute(text("SELECT name, price FROM tickets")).all())
    assert {name: None if price is None else Decimal(str(price))
            for name, price in prices.items()} == {"day-one": Decimal("200.00"), "other": None}


def test_processes_starting_together_migrate_once_and_all_start(database_url: str) -> None:
    engines = [make_engine(database_url) for _ in range(4)]
    failures: list[BaseException] = []

    def start(engine: Engine) -> None:
        try:
            upgrade(engine, "orchestrator")
        except BaseException as error:  # noqa: BLE001 -- reported below, with the others
            failures.append(error)

    threads = [threading.Thread(target=start, args=(engine,)) for engine in engines]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    try:
        assert failures == []
        assert revision(engines[0], "orchestrator") == head_revision("orchestrator")
    finally:
        for engine in engines:
            engine.dispose()
