"""`python -m glastonbury.migrate`: every database's schema, in place before any part starts.

`make up`, the test stacks and docker-compose's one-shot `migrate` service run it first, so no
process (and no test reading another process's database) ever meets a database without its
tables. Each process still creates what is missing on its own start: harmless, idempotent.
"""

from __future__ import annotations

import logging
import sys

from sqlalchemy import MetaData, inspect, text
from sqlalchemy.engine import Engine

from glastonbury import settings
from glastonbury.db import create_schema, make_engine


def schemas() -> dict[str, MetaData]:
    """Each service's database (named as in `<SERVICE>_DATABASE_URL`) and its tables."""
    from inventory_service.adapters.tables import metadata as inventory
    from orchestrator.adapters.store import metadata as orchestrator
    from order_service.adapters.orm import metadata as order
    from payment_service.adapters.tables import metadata as payment

    return {"order": order, "inventory": inventory, "payment": payment,
            "orchestrator": orchestrator}


# Columns added after a table was first created: `create_all` makes missing tables, not missing
# columns. (table, column, its SQL type, statements that fill it in) -- until a migration tool
# keeps the schema's history, each added column is listed here.
ADDED_COLUMNS = {
    "inventory": [("tickets", "price", "NUMERIC(12, 2)",
                   ["UPDATE tickets SET price = 200.00 WHERE price IS NULL AND name = 'day-one'"])],
}


def migrate(attempts: int = 30) -> None:
    for service, metadata in schemas().items():
        engine = make_engine(settings.database_url(service))
        try:
            create_schema(engine, metadata, attempts=attempts)
            add_missing_columns(engine, ADDED_COLUMNS.get(service, []))
        finally:
            engine.dispose()
        logging.info("schema of the %s database is in place", service)


def add_missing_columns(engine: Engine,
                        columns: list[tuple[str, str, str, list[str]]]) -> None:
    """Add each listed column a database made before it lacks, and fill it in."""
    for table, column, sql_type, fill in columns:
        if column in {c["name"] for c in inspect(engine).get_columns(table)}:
            continue
        with engine.begin() as connection:
            connection.execute(text(f"ALTER TABLE {table} ADD COLUMN {column} {sql_type}"))
            for statement in fill:
                connection.execute(text(statement))
        logging.info("added %s.%s", table, column)


def main() -> int:
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    migrate()
    return 0


if __name__ == "__main__":
    sys.exit(main())
