"""`python -m glastonbury.migrate`: every database's schema, in place before any part starts.

`make up`, the test stacks and docker-compose's one-shot `migrate` service run it first, so no
process (and no test reading another process's database) ever meets a database without its
tables. Each process still creates what is missing on its own start: harmless, idempotent.
"""

from __future__ import annotations

import logging
import sys

from sqlalchemy import MetaData

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


def migrate(attempts: int = 30) -> None:
    for service, metadata in schemas().items():
        engine = make_engine(settings.database_url(service))
        try:
            create_schema(engine, metadata, attempts=attempts)
        finally:
            engine.dispose()
        logging.info("schema of the %s database is in place", service)


def main() -> int:
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    migrate()
    return 0


if __name__ == "__main__":
    sys.exit(main())
