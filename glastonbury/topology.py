"""The parts of the system, declared once.

Plain data: a part's code is named as a command names it (a module, `module:name`), never
imported.
"""

from __future__ import annotations

# Each service database and where its service declares its schema (a glastonbury.migrate.Schema:
# its tables and its migrations), as `module:name`. `python -m glastonbury.migrate` imports them
# when it runs, so that the shared kernel imports no service.
DATABASES = {
    "order": "order_service.adapters.tables:SCHEMA",
    "inventory": "inventory_service.adapters.tables:SCHEMA",
    "payment": "payment_service.adapters.tables:SCHEMA",
    "orchestrator": "orchestrator.adapters.store:SCHEMA",
}
