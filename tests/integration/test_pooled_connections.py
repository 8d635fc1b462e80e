"""The engines' pooled PostgreSQL connections: pinged only after they sat idle, and reads without
a transaction (glastonbury.db)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlalchemy import text
from sqlalchemy.engine import Engine

from glastonbury import db
from glastonbury.db import make_engine, reading


@pytest.fixture
def engine(postgresql_url: str) -> Iterator[Engine]:
    engine = make_engine(postgresql_url)
    yield engine
    engine.dispose()


def backend_pid(engine: Engine) -> int:
    with engine.connect() as connection:
        return int(connection.execute(text("SELECT pg_backend_pid()")).scalar_one())


def terminate(engine: Engine, pid: int) -> None:
    with engine.connect() as connection:
        connection.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": pid})
        connection.commit()


def test_a_connection_the_server_dropped_while_it_sat_idle_is_replaced_before_use(
        engine: Engine, monkeypatch: pytest.MonkeyPatch) -> None:
    dropped = backend_pid(engine)
    with engine.connect():   # another pooled connection does the dropping
        terminate(engine, dropped)
    monkeypatch.setattr(db, "PING_AFTER_IDLE_S", 0.0)   # both sat idle long enough
    assert backend_pid(engine) != dropped


def test_a_connection_used_just_now_is_handed_out_without_a_ping(
        engine: Engine, monkeypatch: pytest.MonkeyPatch) -> None:
    pings: list[object] = []
    monkeypatch.setattr(engine.dialect, "do_ping", pings.append)
    backend_pid(engine)
    backend_pid(engine)
    assert pings == []
    monkeypatch.setattr(db, "PING_AFTER_IDLE_S", 0.0)
    backend_pid(engine)
    assert len(pings) == 1


def test_a_read_runs_outside_a_transaction(engine: Engine) -> None:
    with reading(engine) as connection:
        connection.execute(text("SELECT 1"))
        assert connection.connection.dbapi_connection.autocommit  # type: ignore[union-attr]
    with engine.connect() as connection:   # the pool hands the next one back in a transaction
        connection.execute(text("SELECT 1"))
        assert not connection.connection.dbapi_connection.autocommit  # type: ignore[union-attr]
