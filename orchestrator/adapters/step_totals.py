"""Each step's running totals (`step_totals`): added to in the transaction that ends each run
(by the repository), read by the metrics and the dashboard as a row a step, however long the
history."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from functools import cache
from typing import Any

from sqlalchemy import bindparam, literal_column, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection

from orchestrator.adapters.tables import DURATION_BUCKETS, step_totals
from orchestrator.domain.flow import SAGA


@dataclass(frozen=True)
class StepTotals:
    """A step's finished runs so far: passed, failed, seconds in all, and how many took at
    most each of DURATION_BUCKETS (cumulative, as Prometheus has them)."""

    passed: int
    failed: int
    seconds: float
    at_most: tuple[int, ...]

    @property
    def runs(self) -> int:
        return self.passed + self.failed

    @classmethod
    def from_row(cls, row: Any) -> StepTotals:
        within = [getattr(row, f"within_{index}") for index in range(len(DURATION_BUCKETS))]
        at_most = tuple(sum(within[:index + 1]) for index in range(len(within)))
        return cls(row.passed, row.failed, row.seconds, at_most)


def read_step_totals(connection: Connection) -> dict[str, StepTotals]:
    """Each step's finished runs so far, by step name."""
    query = select(step_totals).order_by(step_totals.c.name)
    return {row.name: StepTotals.from_row(row) for row in connection.execute(query)}


def add_run(connection: Connection, name: str, outcome: str | None, began: datetime,
            ended: datetime) -> None:
    """Count a finished run in its step's totals (from its record's first start: a step
    retried took all its attempts; the wait for a payment, from its request)."""
    seconds = max(0.0, (ended - began).total_seconds())
    failed = SAGA.step_failed(name, outcome)
    connection.execute(_add_to_totals(connection.dialect.name, duration_bucket(seconds)),  # type: ignore[call-overload]
                       {"name": name, "passed": int(not failed), "failed": int(failed),
                        "seconds": seconds})


def duration_bucket(seconds: float) -> int:
    """The index of the first of DURATION_BUCKETS the duration fits in (the last: none)."""
    return next((index for index, bound in enumerate(DURATION_BUCKETS) if seconds <= bound),
                len(DURATION_BUCKETS))


@cache
def _add_to_totals(dialect: str, within: int) -> object:
    """Add one finished run, which took at most DURATION_BUCKETS[within], to its step's totals
    (built once a dialect and bucket: see the repository's statements)."""
    insert_for = postgresql.insert if dialect == "postgresql" else sqlite.insert
    buckets: dict[str, Any] = {f"within_{index}": literal_column("1" if index == within else "0")
                               for index in range(len(DURATION_BUCKETS) + 1)}   # 4 parameters
    statement = insert_for(step_totals).values(
        name=bindparam("name"), passed=bindparam("passed"), failed=bindparam("failed"),
        seconds=bindparam("seconds"), **buckets)
    bucket = getattr(step_totals.c, f"within_{within}")
    return statement.on_conflict_do_update(
        index_elements=[step_totals.c.name],
        set_={"passed": step_totals.c.passed + statement.excluded.passed,
              "failed": step_totals.c.failed + statement.excluded.failed,
              "seconds": step_totals.c.seconds + statement.excluded.seconds,
              bucket.name: bucket + 1})
