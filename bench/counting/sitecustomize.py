"""The bench's round-trip counters, loaded into every part of the stack it starts.

`bench.run` puts this folder first on the parts' PYTHONPATH and names a folder in
BENCH_COUNTERS_DIR; Python then imports this module at start-up in each process (the way
`sitecustomize` works), and it counts, in a small file of that folder named after the process id,
every round trip the process makes to another: PostgreSQL round trips (psycopg's waits that
read or write the server's socket, and the BEGIN sent within a statement's), the statements,
commits and pings SQLAlchemy sends (SQLite's too), HTTP requests sent and answered, Celery
messages sent, tasks run and events published, Redis commands sent (a pipeline is one), Kafka
requests (produce, fetch, commit, heartbeat, metadata), records produced and records consumed.

The file is an array of 64-bit counters in shared memory (`mmap`): counting is one add in
this process, no system call, and the bench reads every file whenever it wants (a phase's
counts are the difference). The application knows nothing of this: nothing here runs unless
the bench set BENCH_COUNTERS_DIR, and only the bench's own stack gets this folder on its path.
"""

from __future__ import annotations

import mmap
import os
import struct
from pathlib import Path
from typing import Any

KINDS = ("pg_round_trips", "db_statements", "db_commits", "db_rollbacks", "db_pings",
         "http_sent", "http_answered", "celery_sent", "celery_tasks", "celery_events",
         "redis_commands", "kafka_requests", "kafka_produced", "kafka_consumed")
SLOT = struct.Struct("q")
INDEX = {kind: index for index, kind in enumerate(KINDS)}
_files: dict[int, mmap.mmap] = {}


def counters_file(directory: Path, pid: int) -> Path:
    return directory / f"{pid}.counts"


def read(path: Path) -> dict[str, int]:
    """The counts in one process's file."""
    data = path.read_bytes()
    return {kind: SLOT.unpack_from(data, index * SLOT.size)[0]
            for index, kind in enumerate(KINDS) if (index + 1) * SLOT.size <= len(data)}


def count(kind: str, n: int = 1) -> None:
    counters = _files.get(os.getpid()) or _open()
    offset = INDEX[kind] * SLOT.size
    SLOT.pack_into(counters, offset, SLOT.unpack_from(counters, offset)[0] + n)


def _open() -> mmap.mmap:
    """This process's file (a forked child gets one of its own on its first count)."""
    path = counters_file(Path(os.environ["BENCH_COUNTERS_DIR"]), os.getpid())
    with open(path, "w+b") as file:
        file.truncate(len(KINDS) * SLOT.size)
        _files[os.getpid()] = mmap.mmap(file.fileno(), len(KINDS) * SLOT.size)
    return _files[os.getpid()]


def _wrap(owner: Any, name: str, kind: str) -> None:
    original = getattr(owner, name)

    def counted(*args: Any, **kwargs: Any) -> Any:
        count(kind)
        return original(*args, **kwargs)

    setattr(owner, name, counted)


def _count_results(owner: Any, name: str, kind: str) -> None:
    """Count the records a poll returns (a dict of partition -> records)."""
    original = getattr(owner, name)

    def counted(*args: Any, **kwargs: Any) -> Any:
        records = original(*args, **kwargs)
        count(kind, sum(len(batch) for batch in records.values()))
        return records

    setattr(owner, name, counted)


def _count_waits_on_the_server(connection_class: Any) -> None:
    """A round trip is a wait of psycopg's that reads or writes the socket: some of its waits
    end without any (a commit or a rollback outside a transaction, setting autocommit)."""
    original = connection_class.wait

    def counted(self: Any, gen: Any, *args: Any, **kwargs: Any) -> Any:
        return original(self, _counting_first_io(gen), *args, **kwargs)

    connection_class.wait = counted


def _count_begins(connection_class: Any) -> None:
    """psycopg sends BEGIN and waits for its answer inside the wait of a transaction's first
    statement: a round trip of its own, counted here."""
    from psycopg.pq import TransactionStatus

    original = connection_class._start_query

    def counted(self: Any) -> Any:
        if not self._autocommit and self.pgconn.transaction_status == TransactionStatus.IDLE \
                and self._pipeline is None:
            count("pg_round_trips")
        return original(self)

    connection_class._start_query = counted


def _counting_first_io(gen: Any) -> Any:
    try:
        wanted = next(gen)
    except StopIteration as done:
        return done.value
    count("pg_round_trips")
    while True:
        ready = yield wanted
        try:
            wanted = gen.send(ready)
        except StopIteration as done:
            return done.value


def install() -> None:
    import http.client

    import psycopg
    import redis.connection
    from sqlalchemy import event
    from sqlalchemy.engine import Engine
    from sqlalchemy.engine.default import DefaultDialect

    _count_waits_on_the_server(psycopg.Connection)
    _count_begins(psycopg._connection_base.BaseConnection)
    _wrap(DefaultDialect, "_do_ping_w_event", "db_pings")
    event.listen(Engine, "before_cursor_execute", lambda *_: count("db_statements"))
    event.listen(Engine, "commit", lambda *_: count("db_commits"))
    event.listen(Engine, "rollback", lambda *_: count("db_rollbacks"))
    _wrap(http.client.HTTPConnection, "request", "http_sent")
    _wrap(redis.connection.AbstractConnection, "send_packed_command", "redis_commands")
    _install_lazily()


def _install_lazily() -> None:
    """Flask, Celery and kafka-python are imported only by the parts that use them: patch
    them here all the same (importing them costs start-up time only)."""
    import flask
    from celery import signals
    from celery.events.dispatcher import EventDispatcher
    from kafka import KafkaConsumer, KafkaProducer
    from kafka.net.connection import KafkaConnection

    _wrap(flask.Flask, "full_dispatch_request", "http_answered")
    signals.before_task_publish.connect(lambda **_: count("celery_sent"), weak=False)
    signals.task_prerun.connect(lambda **_: count("celery_tasks"), weak=False)
    _wrap(EventDispatcher, "_publish", "celery_events")
    _wrap(KafkaConnection, "_send_request", "kafka_requests")
    _wrap(KafkaProducer, "send", "kafka_produced")
    _count_results(KafkaConsumer, "poll", "kafka_consumed")


if os.environ.get("BENCH_COUNTERS_DIR"):
    install()
