"""The migrations, on SQLite and PostgreSQL: they build what the models describe, from nothing,
from a database made before migrations, and beside the other services in one database."""

from __future__ import annotations

import threading
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import insert, inspect, text
from sqlalchemy.engine import Engine

from glastonbury.db import make_engine
from glastonbury.migrate import (
    BASELINE,
    Schema,
    current_revision,
    downgrade,
    head_revision,
    include_only,
    schema,
    upgrade,
)
from glastonbury.topology import DATABASES
from orchestrator.adapters.step_totals import read_step_totals
from orchestrator.adapters.tables import DURATION_BUCKETS, saga_steps

ORDER, INVENTORY, ORCHESTRATOR = schema("order"), schema("inventory"), schema("orchestrator")


@pytest.fixture
def engine(database_url: str) -> Iterator[Engine]:
    engine = make_engine(database_url)
    yield engine
    engine.dispose()


def differences(engine: Engine, service: Schema) -> list[object]:
    """What autogenerate would write for the service: nothing, when models and migrations agree."""
    with engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={
            "version_table": service.version_table, "compare_type": True,
            "include_object": include_only(service.metadata)})
        return list(compare_metadata(context, service.metadata))


def revision(engine: Engine, service: Schema) -> str | None:
    with engine.connect() as connection:
        return current_revision(connection, service)


@pytest.fixture(params=list(DATABASES))
def service(request: pytest.FixtureRequest) -> Schema:
    """Each service's schema, found as `python -m glastonbury.migrate` finds it."""
    return schema(request.param)


def test_the_migrations_build_what_the_models_describe(engine: Engine, service: Schema) -> None:
    upgrade(engine, service)
    assert revision(engine, service) == head_revision(service)
    assert differences(engine, service) == []


def test_the_check_notices_a_schema_that_drifted_from_the_models(engine: Engine) -> None:
    upgrade(engine, ORDER)
    with engine.begin() as connection:
        connection.execute(text("DROP INDEX ix_orders_created_at_id"))
    assert [difference[0] for difference in differences(engine, ORDER)] == ["add_index"]


def test_four_services_share_one_database_each_with_its_own_history(engine: Engine) -> None:
    services = [schema(name) for name in DATABASES]
    for service in services:
        upgrade(engine, service)
    for service in services:
        assert revision(engine, service) == head_revision(service)
        assert differences(engine, service) == [], f"{service.name} sees its neighbours' tables"


def test_every_migration_goes_down_to_nothing_and_back_up(engine: Engine,
                                                          service: Schema) -> None:
    upgrade(engine, service)
    downgrade(engine, service, "base")
    assert not set(inspect(engine).get_table_names()) & set(service.metadata.tables)
    upgrade(engine, service)
    assert differences(engine, service) == []


def test_a_database_made_before_migrations_is_taken_up_with_its_rows(engine: Engine,
                                                                     service: Schema) -> None:
    # As every process's `create_all` made it before migrations: the baseline, no version table.
    upgrade(engine, service, revision=BASELINE)
    with engine.begin() as connection:
        connection.execute(text(f"DROP TABLE {service.version_table}"))
        connection.execute(text("CREATE TABLE canary (id INTEGER PRIMARY KEY)"))
        connection.execute(text("INSERT INTO canary VALUES (1)"))
    upgrade(engine, service)
    assert revision(engine, service) == head_revision(service)
    assert differences(engine, service) == []
    with engine.connect() as connection:
        assert connection.execute(text("SELECT id FROM canary")).scalar() == 1


def test_an_inventory_from_before_prices_gets_the_price_column_and_the_day_one_price(
        engine: Engine) -> None:
    upgrade(engine, INVENTORY, revision=BASELINE)
    with engine.begin() as connection:
        connection.execute(text(
            "INSERT INTO tickets (id, name, available) VALUES (:day_one, 'day-one', 10), "
            "(:other, 'other', 5)"), {"day_one": "8d2b34e1ad2c4b2d8cde9d3c8e7a6b10",
                                      "other": "1f0e2d3c4b5a69788796a5b4c3d2e1f0"})
    upgrade(engine, INVENTORY)
    with engine.connect() as connection:
        prices = dict(connection.execute(text("SELECT name, price FROM tickets")).all())
    assert {name: None if price is None else Decimal(str(price))
            for name, price in prices.items()} == {"day-one": Decimal("200.00"), "other": None}


def test_an_inventory_from_before_limits_gets_the_default_limits_and_counts_no_old_hold(
        engine: Engine) -> None:
    from inventory_service.service_layer import services
    from inventory_service.service_layer.unit_of_work import SqlAlchemyUnitOfWork

    upgrade(engine, INVENTORY, revision="0002")
    ticket, order = "1f0e2d3c4b5a69788796a5b4c3d2e1f0", "8d2b34e1ad2c4b2d8cde9d3c8e7a6b10"
    with engine.begin() as connection:
        connection.execute(text("INSERT INTO tickets (id, name, available, price) "
                                "VALUES (:ticket, 'other', 5, 10)"), {"ticket": ticket})
        connection.execute(text("INSERT INTO reservations (order_id, status) "
                                "VALUES (:order, 'HELD')"), {"order": order})
        connection.execute(text("INSERT INTO reservation_lines (order_id, ticket_id, quantity) "
                                "VALUES (:order, :ticket, 2)"), {"order": order, "ticket": ticket})
    upgrade(engine, INVENTORY)
    uow = SqlAlchemyUnitOfWork(engine)
    limits = services.get_ticket(uow, uuid.UUID(ticket)).limits
    assert (limits.per_order, limits.per_customer) == (6, 6)
    # A hold made before customers were counted is given back without counting anyone's off.
    released = services.release(uow, uuid.UUID(order))
    assert released.customer_id is None and released.status.value == "RELEASED"
    assert services.get_ticket(uow, uuid.UUID(ticket)).available == 7
    with engine.connect() as connection:
        assert connection.execute(text("SELECT COUNT(*) FROM customer_holdings")).scalar() == 0


def test_processes_starting_together_migrate_once_and_all_start(database_url: str) -> None:
    engines = [make_engine(database_url) for _ in range(4)]
    failures: list[BaseException] = []

    def start(engine: Engine) -> None:
        try:
            upgrade(engine, ORCHESTRATOR)
        except BaseException as error:  # noqa: BLE001 -- reported below, with the others
            failures.append(error)

    threads = [threading.Thread(target=start, args=(engine,)) for engine in engines]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    try:
        assert failures == []
        assert revision(engines[0], ORCHESTRATOR) == head_revision(ORCHESTRATOR)
    finally:
        for engine in engines:
            engine.dispose()


def test_a_saga_store_from_before_step_totals_gets_the_totals_of_its_step_records(
        engine: Engine) -> None:
    upgrade(engine, ORCHESTRATOR, revision="0003")
    ended = [("o1", "reserve_tickets", 0.02, "reserved"), ("o2", "reserve_tickets", 0.02,
                                                            "out_of_stock"),
             ("o1", "await_payment", 2.0, "approved"), ("o1", "finalise_order", 0.3, "failed")]
    began = datetime(2026, 6, 1, tzinfo=UTC)
    with engine.begin() as connection:   # saga_steps is as 0003 left it: the model's table
        connection.execute(insert(saga_steps), [
            {"order_id": order_id, "name": name, "started_at": began, "attempts": 1,
             "ended_at": began + timedelta(seconds=took), "outcome": outcome}
            for order_id, name, took, outcome in ended])
        connection.execute(insert(saga_steps).values(   # still running: not a finished run
            order_id="o3", name="reserve_tickets", started_at=began, attempts=2))
    upgrade(engine, ORCHESTRATOR)
    with engine.connect() as connection:
        totals = read_step_totals(connection)
    assert {name: (t.passed, t.failed) for name, t in totals.items()} == {
        "reserve_tickets": (1, 1), "await_payment": (1, 0), "finalise_order": (0, 1)}
    assert totals["await_payment"].seconds == pytest.approx(2.0, abs=0.001)   # julianday: ~10 µs
    index = DURATION_BUCKETS.index
    assert totals["reserve_tickets"].at_most[index(0.01)] == 0
    assert totals["reserve_tickets"].at_most[index(0.025)] == 2
    assert totals["await_payment"].at_most[index(1.0)] == 0
    assert totals["await_payment"].at_most[index(2.5)] == 1
    assert totals["finalise_order"].at_most[index(0.5)] == 1
