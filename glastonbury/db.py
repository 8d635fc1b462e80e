"""SQLAlchemy engines that behave the same on SQLite (local) and PostgreSQL (production)."""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime

from functools import cache
from typing import Any

from sqlalchemy import (DateTime, Insert, Table, TypeDecorator, bindparam, create_engine, event,
                        exc, insert)
from sqlalchemy.engine import Connection, Dialect, Engine


# A pooled PostgreSQL connection idle longer than this is pinged before it is handed out (the
# server may have restarted or dropped it meanwhile); one used more recently is handed out as it
# is. SQLAlchemy's `pool_pre_ping` pinged at every checkout: a round trip to the server for every
# transaction, ~1 in 5 of a saga's (bench/README.md, "Round trips"). A connection that died
# within this time fails its statement once: SQLAlchemy then recycles the whole pool, and the
# caller's failure is a technical one (a step retries it, a request answers 503).
PING_AFTER_IDLE_S = 2.0


def make_engine(url: str, pool_size: int = 5) -> Engine:
    """An engine for `url`; SQLite gets WAL, a busy timeout and write-locking transactions.

    A server's pool keeps `pool_size` connections once opened: give it as many as the process
    has threads that use it at once. Above that, up to 10 more are opened when needed and closed
    as soon as they are handed back — a backend forked and signed in each time (measured: the
    order service's 20 request threads over the default 5 opened a connection every third saga
    or so, ~2 ms of PostgreSQL's CPU a saga; bench/README.md)."""
    if url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url.removeprefix("postgresql://")
    if not url.startswith("sqlite"):
        engine = create_engine(url, pool_size=pool_size, max_overflow=10)
        _ping_connections_idle_for_a_while(engine)
        return engine
    engine = create_engine(url, connect_args={"timeout": 30, "check_same_thread": False})
    _make_sqlite_transactions_take_the_write_lock(engine)
    return engine


def _ping_connections_idle_for_a_while(engine: Engine) -> None:
    # SQLAlchemy's "pessimistic disconnect handling" done by hand: raising DisconnectionError
    # on checkout makes the pool drop the connection and hand out a fresh one.
    @event.listens_for(engine, "checkin")
    def _on_checkin(_dbapi_connection, record):  # type: ignore[no-untyped-def]
        record.info[IDLE_SINCE] = time.monotonic()

    @event.listens_for(engine, "checkout")
    def _on_checkout(dbapi_connection, record, _proxy):  # type: ignore[no-untyped-def]
        idle_since = record.info.get(IDLE_SINCE)   # None: a new connection, just made
        if idle_since is None or time.monotonic() - idle_since <= PING_AFTER_IDLE_S:
            return
        try:
            engine.dialect.do_ping(dbapi_connection)
            dbapi_connection.rollback()   # the ping's transaction: hand it out outside one
        except Exception as error:  # noqa: BLE001 - any failure of a ping: a dead connection
            raise exc.DisconnectionError(f"a pooled connection failed its ping: {error}") \
                from error


IDLE_SINCE = "glastonbury_idle_since"


def _make_sqlite_transactions_take_the_write_lock(engine: Engine) -> None:
    # pysqlite's own BEGIN is deferred: two readers that both want to write then deadlock and
    # one fails at once with "database is locked". BEGIN IMMEDIATE queues writers on the busy
    # timeout instead, which is what a conditional UPDATE on stock needs under concurrency.
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection, _record):  # type: ignore[no-untyped-def]
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA busy_timeout=30000")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection):  # type: ignore[no-untyped-def]
        # A read-only transaction (see `reading`) takes no lock at all: in WAL mode a reader
        # sees the last commit and neither waits for nor holds up any writer.
        read_only = connection.get_execution_options().get(READ_ONLY, False)
        connection.exec_driver_sql("BEGIN" if read_only else "BEGIN IMMEDIATE")


READ_ONLY = "glastonbury_read_only"


@contextmanager
def reading(engine: Engine) -> Iterator[Connection]:
    """A connection for reads only (see `read_only`)."""
    with engine.connect() as connection:
        yield read_only(connection)


def read_only(connection: Connection) -> Connection:
    """The connection, set for reads only. On SQLite its transaction takes no write lock
    (every other transaction does, see above), so reading never queues behind, or ahead of, the
    writers. On PostgreSQL it runs without a transaction (autocommit): no BEGIN and no ROLLBACK
    around its statements, two round trips to the server fewer a read. Nothing is lost by it:
    at PostgreSQL's READ COMMITTED each statement sees its own snapshot in a transaction too."""
    if connection.dialect.name == "sqlite":
        return connection.execution_options(**{READ_ONLY: True})
    return connection.execution_options(isolation_level="AUTOCOMMIT")


class UtcDateTime(TypeDecorator[datetime]):
    """Aware UTC datetimes in, aware UTC datetimes out, on both backends.

    SQLite keeps no time zone, so values are stored there as naive UTC and given UTC back.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


def insert_with_children(connection: Connection, parent: Insert, parent_values: dict[str, Any],
                         children: Table, rows: list[dict[str, Any]]) -> None:
    """A row and its children's rows (an order's lines, a reservation's): on PostgreSQL one
    statement, the parent's INSERT in a WITH clause (run whether read or not; the children's
    foreign key checked once both are in), so one round trip — and with the unit of work's
    `one_write`, no BEGIN and COMMIT around it; elsewhere one INSERT and then the other."""
    if connection.dialect.name == "postgresql" and rows:
        connection.execute(_with_children(parent, children, len(rows)), parent_values | {
            f"{name}_{index}": value for index, row in enumerate(rows)
            for name, value in row.items()})
        return
    connection.execute(parent, parent_values)
    if rows:
        connection.execute(insert(children), rows)


@cache
def _with_children(parent: Insert, children: Table, count: int) -> Any:
    # Each child's value typed as its column: otherwise only the first row's are (an amount
    # stored in cents by its type would be written as it came).
    return insert(children).values([
        {column.name: bindparam(f"{column.name}_{index}", type_=column.type)
         for column in children.columns}
        for index in range(count)]).add_cte(parent.cte("parent"))
