"""Alembic's environment for every service database (see glastonbury.migrate).

`glastonbury.migrate` hands in the service's schema (its tables, hence its version table) and,
to migrate, the connection; without one (`revision`'s autogenerate), this file connects to the
schema's `<NAME>_DATABASE_URL`.
"""

from __future__ import annotations

from typing import Any, Literal

from alembic import context
from sqlalchemy.types import TypeDecorator

from glastonbury.migrate import Schema, include_only

config = context.config
schema: Schema = config.attributes["schema"]


def render_item(type_: str, obj: Any, autogen_context: Any) -> str | Literal[False]:
    """Write a column of a project type (money in cents, UTC datetimes) as the type it is stored
    as, so a migration never imports the models it must outlive."""
    if type_ == "type" and isinstance(obj, TypeDecorator):
        return f"sa.{obj.impl_instance!r}"
    return False


def run(connection) -> None:  # type: ignore[no-untyped-def]
    context.configure(connection=connection, target_metadata=schema.metadata,
                      version_table=schema.version_table,
                      include_object=include_only(schema.metadata),
                      # SQLite alters a table by copying it: let autogenerate and ops do that.
                      render_as_batch=connection.dialect.name == "sqlite",
                      compare_type=True, render_item=render_item)
    with context.begin_transaction():
        context.run_migrations()


connection = config.attributes.get("connection")
if connection is not None:
    run(connection)
else:
    from glastonbury import settings
    from glastonbury.db import make_engine

    engine = make_engine(settings.database_url(schema.name))
    with engine.begin() as own_connection:
        run(own_connection)
    engine.dispose()
