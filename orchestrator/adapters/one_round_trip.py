"""A step's write to the saga store as one PostgreSQL statement: one round trip to the server.

What `SagaRepository.save` and `record_step` write one statement at a time — the saga's move
(a compare-and-set from the state it was read in, or only a touch when it moved on meanwhile),
the wait for the payment's record when the move begins or ends it, the step's record and its
step's running totals — is here one `WITH ... SELECT` whose parts PostgreSQL runs together, on
one snapshot, in one implicit transaction: all of it is stored or none. Sent without BEGIN and
COMMIT (the unit of work's `one_write`), a step's transaction then costs one round trip instead
of five. The statement is the repository's statements' SQL, nothing more: the records of a wait
depend on the move (`WHERE EXISTS (SELECT FROM moved)`), a step's totals on its record's first
start (its `RETURNING`), as in `repository.py` and `step_totals.py`; tests hold both to the
same results (tests/integration/orchestrator/test_saga_store.py runs on both databases).

PostgreSQL only: SQLite takes no INSERT or UPDATE in a WITH clause.
"""

from __future__ import annotations

from datetime import datetime
from enum import Enum
from functools import cache
from typing import Any

from sqlalchemy import Table, text
from sqlalchemy.dialects import postgresql
from sqlalchemy.engine import Connection

from orchestrator.adapters.tables import DURATION_BUCKETS, sagas, saga_steps
from orchestrator.domain.flow import SAGA
from orchestrator.domain.saga import Move, StepRun
from orchestrator.domain.steps import AWAIT_PAYMENT

WITHIN = [f"within_{index}" for index in range(len(DURATION_BUCKETS) + 1)]


def write(connection: Connection, order_id: str, move: Move, moment: datetime,
          run: StepRun | None) -> bool:
    """The move and the run's record in one statement; whether the saga moved (False: it had
    moved on meanwhile, and was only touched; the run's record is kept all the same). A run
    is a task's: the wait's records are the move's (one statement may not change a row twice)."""
    assert run is None or run.name != AWAIT_PAYMENT.name, "the wait is recorded by its move"
    changes = {"updated_at": moment, **move.changes}
    if move.moves:
        changes["state"] = move.to
    parameters: dict[str, Any] = {"order_id": order_id, "moment": moment,
                                  **{f"new_{column}": _plain(value)
                                     for column, value in changes.items()}}
    records: list[str] = []
    if move.moves:
        parameters["allowed"] = [move.was.value]
        if move.wait_begins:
            records.append("wait_begins")
            parameters |= _record_parameters("wait_begins", AWAIT_PAYMENT.name, moment, None,
                                             None, None, 1, None)
        if move.wait_ended_as is not None:
            records.append("wait_ends")
            parameters |= _record_parameters("wait_ends", AWAIT_PAYMENT.name, moment, moment,
                                             move.wait_ended_as, None, 0, None)
    if run is not None:
        records.append("run")
        parameters |= _record_parameters("run", run.name, run.started_at, moment, run.outcome,
                                         run.task_id, 0 if run.counted else 1, run.error)
    statement = _statement(tuple(sorted(changes)), move.moves, tuple(records))
    moved: int = connection.execute(statement, parameters).scalar_one()
    return not move.moves or bool(moved)


def _record_parameters(prefix: str, name: str, started_at: datetime, ended_at: datetime | None,
                       outcome: str | None, task_id: str | None, attempts: int,
                       error: str | None) -> dict[str, Any]:
    failed = outcome is not None and SAGA.step_failed(name, outcome)
    return {f"{prefix}_{key}": value for key, value in {
        "name": name, "started_at": started_at, "ended_at": ended_at, "outcome": outcome,
        "task_id": task_id, "attempts": attempts, "error": error,
        "passed": int(not failed), "failed": int(failed)}.items()}


def _plain(value: Any) -> Any:
    return value.value if isinstance(value, Enum) else value


@cache
def _statement(columns: tuple[str, ...], compare: bool, records: tuple[str, ...]) -> Any:
    """The statement for this shape of write (built once a shape: see the repository's)."""
    sets = ", ".join(f"{column} = CAST(:new_{column} AS {_type(sagas, column)})"
                     for column in columns)
    ctes = [f"moved AS (UPDATE sagas SET {sets} WHERE order_id = :order_id"
            + (" AND state = ANY(CAST(:allowed AS VARCHAR[]))" if compare else "")
            + " RETURNING 1)"]
    if compare:   # moved on meanwhile: only touched, as `save` does
        ctes.append("touched AS (UPDATE sagas SET updated_at = CAST(:moment AS TIMESTAMPTZ) "
                    "WHERE order_id = :order_id AND NOT EXISTS (SELECT FROM moved) RETURNING 1)")
    for prefix in records:
        # The wait's records stand or fall with the move; the run's record is kept regardless.
        only_if_moved = prefix.startswith("wait")
        ctes.append(_step_record(prefix, only_if_moved))
        if prefix != "wait_begins":   # a finished run: its step's totals
            ctes.append(_totals(prefix))
    return text("WITH " + ",\n".join(ctes) + "\nSELECT count(*) FROM moved")


def _step_record(prefix: str, only_if_moved: bool) -> str:
    """`repository._upsert_step`: its first start kept, attempts added, the last error kept."""
    columns = [column.name for column in saga_steps.columns]
    values = ", ".join("CAST(:order_id AS VARCHAR)" if column == "order_id" else
                       f"CAST(:{prefix}_{column} AS {_type(saga_steps, column)})"
                       for column in columns)
    return (f"{prefix}_step AS (INSERT INTO saga_steps AS old ({', '.join(columns)}) "
            f"SELECT {values}"
            + (" WHERE EXISTS (SELECT FROM moved)" if only_if_moved else "")
            + " ON CONFLICT (order_id, name) DO UPDATE SET ended_at = excluded.ended_at, "
            "outcome = excluded.outcome, task_id = coalesce(excluded.task_id, old.task_id), "
            "error = coalesce(excluded.error, old.error), "
            "attempts = old.attempts + excluded.attempts RETURNING started_at)")


def _totals(prefix: str) -> str:
    """`step_totals.add_run`: the run counted from its record's first start."""
    bucket = " ".join(f"WHEN seconds <= {bound} THEN {index}"
                      for index, bound in enumerate(DURATION_BUCKETS))
    within = ", ".join(f"CAST(bucket = {index} AS INTEGER)" for index in range(len(WITHIN)))
    added = ", ".join(f"{column} = total.{column} + excluded.{column}"
                      for column in ("passed", "failed", "seconds", *WITHIN))
    return (f"{prefix}_totals AS (INSERT INTO step_totals AS total "
            f"(name, passed, failed, seconds, {', '.join(WITHIN)}) "
            f"SELECT CAST(:{prefix}_name AS VARCHAR), CAST(:{prefix}_passed AS INTEGER), "
            f"CAST(:{prefix}_failed AS INTEGER), seconds, {within} FROM ("
            f"SELECT seconds, CASE {bucket} ELSE {len(DURATION_BUCKETS)} END AS bucket FROM ("
            f"SELECT greatest(0, CAST(extract(epoch FROM "
            f"CAST(:{prefix}_ended_at AS TIMESTAMPTZ) - started_at) AS DOUBLE PRECISION)) "
            f"AS seconds FROM {prefix}_step) AS run) AS counted "
            f"ON CONFLICT (name) DO UPDATE SET {added})")


def _type(table: Table, column: str) -> str:
    return str(table.c[column].type.compile(dialect=postgresql.dialect()))
