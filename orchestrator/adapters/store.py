"""The saga store: every saga's state and the record of every step, in SQLAlchemy Core.

Transitions are compare-and-set (`UPDATE ... WHERE state IN (...)`): of two deliveries of the
same message, or a late one, exactly one moves the saga and the others change nothing.

A step costs the store one read (`current`: the saga's row, not its history) and one write
(`finish_step`: the transition, the step's record and its step's running totals in one
transaction).

Finished sagas pile up; what is asked often never scans them: live sagas are found by their
state (an index), the metrics and the dashboard's counts of runs read `step_totals` (one row a
step, added to as each run ends), and the dashboard's other reads go through indexes below.
"""

from __future__ import annotations

import builtins
import json
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from dataclasses import dataclass, field

from functools import cache
from pathlib import Path
from typing import Any

from sqlalchemy import (Boolean, Column, ColumnElement, DateTime, Float, Index, Integer, MetaData,
                        Select, String, Table, Text, and_, bindparam, func, insert,
                        literal_column, or_, select, update)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import IntegrityError

from glastonbury.clock import utc_now
from glastonbury.db import make_engine, reading
from glastonbury.migrate import Schema, upgrade
from orchestrator.domain.model import LIVE, OrderLine, OrderPlaced, Saga, SagaState, StepRecord
from orchestrator.domain.steps import GAVE_UP_OUTCOME, step_failed

metadata = MetaData()
# The migrator's: a store upgrades its database to it on connecting, and `python -m
# glastonbury.migrate` finds it by this name, which glastonbury.topology gives.
SCHEMA = Schema("orchestrator", metadata, Path(__file__).resolve().parents[1] / "migrations")

sagas = Table(
    "sagas", metadata,
    Column("order_id", String(64), primary_key=True),
    Column("state", String(32), nullable=False, index=True),
    Column("outcome", String(32)),
    Column("reason", Text),
    Column("customer_id", String(64), nullable=False),
    Column("total", String(32), nullable=False),
    Column("lines", Text, nullable=False),
    Column("payment_requested", Boolean, nullable=False, default=False),
    Column("payment_deadline", DateTime(timezone=True)),
    Column("payment_to_void", Boolean, nullable=False, default=False),
    Column("drives", Integer, nullable=False, default=0),
    Column("parked", Boolean, nullable=False, default=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False, index=True),
)

saga_steps = Table(
    "saga_steps", metadata,
    Column("order_id", String(64), primary_key=True),
    Column("name", String(64), primary_key=True),
    Column("started_at", DateTime(timezone=True), nullable=False),
    Column("ended_at", DateTime(timezone=True)),
    Column("attempts", Integer, nullable=False, default=0),
    Column("outcome", String(64)),
    Column("error", Text),
    Column("task_id", String(64)),
)

# The few sagas a person or the reconciler looks for among the many finished: parked ones, and
# those with a payment to give back.
PARKED, TO_VOID = sagas.c.parked.is_(True), sagas.c.payment_to_void.is_(True)
Index("ix_sagas_parked", sagas.c.order_id, postgresql_where=PARKED, sqlite_where=PARKED)
Index("ix_sagas_to_void", sagas.c.updated_at, postgresql_where=TO_VOID, sqlite_where=TO_VOID)

# The dashboard's reads of the step records: each step's latest runs (durations), the sagas with
# a step given up on, those with a step still being retried.
Index("ix_saga_steps_name_ended_at", saga_steps.c.name, saga_steps.c.ended_at)
Index("ix_saga_steps_outcome", saga_steps.c.outcome)
UNFINISHED = saga_steps.c.ended_at.is_(None)
Index("ix_saga_steps_unfinished", saga_steps.c.order_id, postgresql_where=UNFINISHED,
      sqlite_where=UNFINISHED)

# Each step's finished runs so far, as the metrics and the dashboard count them: passed or failed
# (`step_failed`), their seconds in all, and how many took at most each of DURATION_BUCKETS
# (`within_<i>`, not cumulative; the last: longer than all). Added to in the transaction that
# ends each run, so a scrape reads a row a step however long the history.
DURATION_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0,
                    300.0, 900.0)   # seconds: a service call takes ms, a payment's wait minutes
step_totals = Table(
    "step_totals", metadata,
    Column("name", String(64), primary_key=True),
    Column("passed", Integer, nullable=False),
    Column("failed", Integer, nullable=False),
    Column("seconds", Float, nullable=False),
    *(Column(f"within_{index}", Integer, nullable=False)
      for index in range(len(DURATION_BUCKETS) + 1)),
)

processed_events = Table(
    "processed_events", metadata,
    Column("event_id", String(64), primary_key=True),
    Column("order_id", String(64), nullable=False),
    Column("processed_at", DateTime(timezone=True), nullable=False),
)


# The reconciler's passes, one row: it runs unseen by Flower (its passes would bury the saga
# steps there), so the dashboard and the metrics read when it last ran and what it repaired here.
REPAIRS = ("driven", "checked", "voided", "started")
reconciler_passes = Table(
    "reconciler_passes", metadata,
    Column("name", String(32), primary_key=True),
    Column("passes", Integer, nullable=False),
    Column("last_pass_at", DateTime(timezone=True), nullable=False),
    Column("last_repair_at", DateTime(timezone=True)),
    Column("last_repairs", Text),   # JSON: what the last pass that repaired anything did
    *(Column(f"{repair}_total", Integer, nullable=False) for repair in REPAIRS),
)


# Payment results the bridge put on the dead-letter topic, counted by why, and order messages
# the start refused because the order service did not sign them (DEAD_LETTER_KINDS).
DEAD_LETTER_KINDS = ("unsigned", "unreadable", "contradicted", "refused", "unsigned_order")
dead_letters = Table(
    "dead_letters", metadata,
    Column("kind", String(32), primary_key=True),
    Column("count", Integer, nullable=False),
    Column("last_at", DateTime(timezone=True), nullable=False),
)


now = utc_now   # the orchestrator's name for the one clock


def stuck(stuck_after: timedelta) -> ColumnElement[bool]:
    """The one definition of a stuck saga, on a row of `sagas`: not finished, and nothing was
    expected of it for longer than `stuck_after` -- since its last change or, waiting for its
    payment, since that wait's deadline (the wait is untouched by design until then). The
    reconciler, the dashboard and the command line all ask this."""
    cutoff = now() - stuck_after
    return and_(sagas.c.state.in_([state.value for state in LIVE]),   # the few, by their index
                sagas.c.updated_at < cutoff,
                or_(sagas.c.state != SagaState.AWAITING_PAYMENT.value,
                    sagas.c.payment_deadline.is_(None), sagas.c.payment_deadline < cutoff))


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


@dataclass(frozen=True)
class ReconcilerPasses:
    """How often the reconciler ran, when last, and what it repaired (last time and in all)."""

    passes: int
    last_pass_at: datetime
    last_repair_at: datetime | None
    last_repairs: dict[str, int]
    totals: dict[str, int]


@dataclass(frozen=True)
class Move:
    """A compare-and-set transition: from one of `allowed` to `to`, with other fields changed."""

    allowed: tuple[SagaState, ...]
    to: SagaState
    changes: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class StepRun:
    """One finished run of a step, as its record is written."""

    name: str
    outcome: str
    started_at: datetime
    task_id: str | None = None
    counted: bool = False   # its attempt was counted already (a redelivered message)
    error: str | None = None


# -- the statements of a step, built once --------------------------------------------------------
# A step runs a handful of statements; built per call, SQLAlchemy spent more CPU constructing
# and keying them than the database spent running them. Built once with bind parameters, each
# is compiled once per process and only executed after that.

SAGA_BY_ID = select(sagas).where(sagas.c.order_id == bindparam("order_id"))
NEW_SAGA = insert(sagas).values({column.name: bindparam(column.name) for column in sagas.columns
                                 if column.name not in ("outcome", "reason", "payment_deadline")})
STEP_ATTEMPTS = select(saga_steps.c.attempts).where(saga_steps.c.order_id == bindparam("order_id"),
                                                    saga_steps.c.name == bindparam("name"))


@cache
def _update_saga(with_state: bool, columns: tuple[str, ...]) -> object:
    """`UPDATE sagas SET ...` for these columns; with `with_state`, only from allowed states."""
    where = [sagas.c.order_id == bindparam("key_order_id")]
    if with_state:
        where.append(sagas.c.state.in_(bindparam("allowed", expanding=True)))
    return update(sagas).where(*where).values(
        {column: bindparam(f"new_{column}") for column in columns})


@cache
def _upsert_step(dialect: str) -> object:
    """Insert a step's record, or add to the one there: its first start and last error stay."""
    insert_for = postgresql.insert if dialect == "postgresql" else sqlite.insert
    statement = insert_for(saga_steps).values({column.name: bindparam(column.name)
                                               for column in saga_steps.columns})
    new = statement.excluded
    return statement.on_conflict_do_update(
        index_elements=[saga_steps.c.order_id, saga_steps.c.name],
        set_={"ended_at": new.ended_at, "outcome": new.outcome,
              "task_id": func.coalesce(new.task_id, saga_steps.c.task_id),
              "error": func.coalesce(new.error, saga_steps.c.error),
              "attempts": saga_steps.c.attempts + new.attempts},
    ).returning(saga_steps.c.started_at)


@cache
def _add_to_totals(dialect: str, within: int) -> object:
    """Add one finished run, which took at most DURATION_BUCKETS[within], to its step's totals."""
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


def duration_bucket(seconds: float) -> int:
    """The index of the first of DURATION_BUCKETS the duration fits in (the last: none)."""
    return next((index for index, bound in enumerate(DURATION_BUCKETS) if seconds <= bound),
                len(DURATION_BUCKETS))


@cache
def _insert_event(dialect: str) -> object:
    insert_for = postgresql.insert if dialect == "postgresql" else sqlite.insert
    return (insert_for(processed_events)
            .values(event_id=bindparam("event_id"), order_id=bindparam("order_id"),
                    processed_at=bindparam("processed_at"))
            .on_conflict_do_nothing().returning(processed_events.c.event_id))


def _aware(moment: datetime | None) -> datetime | None:
    # SQLite hands back naive datetimes; everything stored here is UTC.
    return moment.replace(tzinfo=UTC) if moment is not None and moment.tzinfo is None else moment


class SagaStore:
    """All reads and writes of sagas. Each method is one short transaction unless given one."""

    def __init__(self, engine: Engine):
        self.engine = engine

    @classmethod
    def connect(cls, url: str) -> SagaStore:
        engine = make_engine(url)
        upgrade(engine, SCHEMA)
        return cls(engine)

    @contextmanager
    def transaction(self) -> Iterator[Connection]:
        with self.engine.begin() as connection:
            yield connection

    # -- sagas -------------------------------------------------------------------------------

    def create_if_absent(self, order: OrderPlaced) -> bool:
        """Record a new saga in STARTED; False when the order has one already."""
        lines = json.dumps([{"ticketId": line.ticket_id, "quantity": line.quantity,
                             **({"unitPrice": str(line.unit_price)}
                                if line.unit_price is not None else {})}
                            for line in order.lines])
        moment = now()
        try:
            with self.transaction() as tx:
                tx.execute(NEW_SAGA, {
                    "order_id": order.order_id, "state": SagaState.STARTED,
                    "customer_id": order.customer_id, "total": str(order.total), "lines": lines,
                    "payment_requested": False, "payment_to_void": False, "drives": 0,
                    "parked": False, "created_at": moment, "updated_at": moment})
        except IntegrityError:
            return False
        return True

    def current(self, order_id: str, tx: Connection | None = None) -> Saga | None:
        """The saga as it stands, without its steps' history: what a step needs to run."""
        if tx is not None:
            row = tx.execute(SAGA_BY_ID, {"order_id": order_id}).first()
        else:
            with reading(self.engine) as connection:
                row = connection.execute(SAGA_BY_ID, {"order_id": order_id}).first()
        return None if row is None else _saga_from_row(row, [])

    def get(self, order_id: str, tx: Connection | None = None) -> Saga | None:
        """The saga with the record of every step it ran (the timeline)."""
        if tx is None:
            with reading(self.engine) as connection:
                return self.get(order_id, connection)
        row = tx.execute(SAGA_BY_ID, {"order_id": order_id}).first()
        if row is None:
            return None
        steps = tx.execute(select(saga_steps).where(saga_steps.c.order_id == order_id)
                           .order_by(saga_steps.c.started_at)).all()
        return _saga_from_row(row, steps)

    def transition(self, order_id: str, allowed: Iterable[SagaState], to: SagaState,
                   tx: Connection | None = None, **changes: Any) -> bool:
        """Move the saga to `to` if it is in one of `allowed`; False (no change) otherwise."""
        values = {"state": to, "updated_at": now(), **changes}
        statement = _update_saga(True, tuple(sorted(values)))
        parameters = {f"new_{column}": value for column, value in values.items()}
        parameters |= {"key_order_id": order_id, "allowed": [state.value for state in allowed]}
        with self._use(tx) as connection:
            result = connection.execute(statement, parameters)  # type: ignore[call-overload]
        return bool(result.rowcount == 1)

    def update(self, order_id: str, tx: Connection | None = None, **changes: Any) -> None:
        """Change fields other than the state (flags, counters) and mark the saga as touched."""
        values = {"updated_at": now(), **changes}
        statement = _update_saga(False, tuple(sorted(values)))
        parameters = {f"new_{column}": value for column, value in values.items()}
        with self._use(tx) as connection:
            connection.execute(statement, parameters | {"key_order_id": order_id})  # type: ignore[call-overload]

    # -- steps -------------------------------------------------------------------------------

    def finish_step(self, order_id: str, run: StepRun, move: Move | None = None,
                    tx: Connection | None = None, opens: str | None = None,
                    **changes: Any) -> bool:
        """One transaction: the saga's move (if any) and the step's record; False if the saga
        was not in a state the move allows (then only the step's record is written). `opens`
        begins the record of the step that follows the move (the wait for the payment)."""
        with self._use(tx) as connection:
            moved = True
            if move is not None:
                moved = self.transition(order_id, move.allowed, move.to, connection,
                                        **move.changes, **changes)
            if move is None or not moved:
                self.update(order_id, connection, **changes)
            ended = now()
            began = self._record_step(connection, order_id, run.name, run.started_at, ended,
                                      run.outcome, run.task_id, 0 if run.counted else 1,
                                      run.error)
            self.add_to_totals(connection, run.name, run.outcome, began, ended)
            if opens is not None and moved:
                self._record_step(connection, order_id, opens, now(), None, None, None, 1)
        return moved

    def count_attempt(self, order_id: str, name: str, task_id: str | None) -> int:
        """Count an attempt as it begins (a redelivered message: its worker may have died);
        how many attempts the step has had."""
        with self.transaction() as tx:
            self._record_step(tx, order_id, name, now(), None, None, task_id, 1)
            return int(tx.execute(STEP_ATTEMPTS, {"order_id": order_id, "name": name})
                       .scalar_one())

    def _record_step(self, tx: Connection, order_id: str, name: str, started_at: datetime,
                     ended_at: datetime | None, outcome: str | None, task_id: str | None,
                     add_attempts: int, error: str | None = None) -> datetime:
        """Upsert the step's record: its first start is kept, its attempts are added to, and
        the last technical error stays in view after a later success. Answers its first
        start."""
        began = tx.execute(_upsert_step(tx.dialect.name), {  # type: ignore[call-overload]
            "order_id": order_id, "name": name, "started_at": started_at, "ended_at": ended_at,
            "attempts": add_attempts, "outcome": outcome, "task_id": task_id, "error": error,
        }).scalar_one()
        return _aware(began) or started_at

    @staticmethod
    def add_to_totals(tx: Connection, name: str, outcome: str | None, began: datetime,
                       ended: datetime) -> None:
        """Count a finished run in its step's totals (from its record's first start: a step
        retried took all its attempts; the wait for a payment, from its request)."""
        seconds = max(0.0, (ended - began).total_seconds())
        failed = step_failed(name, outcome)
        tx.execute(_add_to_totals(tx.dialect.name, duration_bucket(seconds)),  # type: ignore[call-overload]
                   {"name": name, "passed": int(not failed), "failed": int(failed),
                    "seconds": seconds})

    def step_totals(self) -> dict[str, StepTotals]:
        """Each step's finished runs so far (see `step_totals`)."""
        with reading(self.engine) as connection:
            return read_step_totals(connection)

    def restart_unfinished_steps(self, order_id: str) -> None:
        """A person retries: count the attempts of unfinished or failed steps afresh."""
        with self.transaction() as tx:
            tx.execute(update(saga_steps)
                       .where(saga_steps.c.order_id == order_id,
                              saga_steps.c.ended_at.is_(None)
                              | (saga_steps.c.outcome == GAVE_UP_OUTCOME))
                       .values(attempts=0))

    def note_step_error(self, order_id: str, name: str, error: str, task_id: str | None = None,
                        counted: bool = False) -> int:
        """Count a failed attempt of a step (it stays open) and keep its error; the step's
        attempts so far."""
        with self.transaction() as tx:
            self._record_step(tx, order_id, name, now(), None, None, task_id,
                              0 if counted else 1, error)
            self.update(order_id, tx)
            return int(tx.execute(STEP_ATTEMPTS, {"order_id": order_id, "name": name})
                       .scalar_one())

    # -- messages ----------------------------------------------------------------------------

    def record_event_once(self, event_id: str, order_id: str, tx: Connection) -> bool:
        """Remember a message's id inside the caller's transaction; False if seen before."""
        added = tx.execute(_insert_event(tx.dialect.name),  # type: ignore[call-overload]
                           {"event_id": event_id, "order_id": order_id, "processed_at": now()})
        return added.first() is not None

    # -- the reconciler's own record ---------------------------------------------------------

    def record_reconciler_pass(self, repaired: dict[str, int]) -> None:
        """Count one pass and add what it repaired (counts by kind of repair, as in REPAIRS)."""
        at = now()
        changes: dict[str, Any] = {"passes": reconciler_passes.c.passes + 1, "last_pass_at": at}
        changes.update({f"{repair}_total": getattr(reconciler_passes.c, f"{repair}_total")
                        + repaired.get(repair, 0) for repair in REPAIRS})
        if any(repaired.values()):
            changes.update(last_repair_at=at, last_repairs=json.dumps(repaired))
        self._add_to_row(reconciler_passes, reconciler_passes.c.name == "reconciler", changes,
                         {"name": "reconciler", "passes": 1, "last_pass_at": at,
                          "last_repair_at": changes.get("last_repair_at"),
                          "last_repairs": changes.get("last_repairs"),
                          **{f"{repair}_total": repaired.get(repair, 0) for repair in REPAIRS}})

    def reconciler_passes(self) -> ReconcilerPasses | None:
        """The reconciler's record; None before its first pass."""
        with reading(self.engine) as connection:
            row = connection.execute(select(reconciler_passes)).first()
        if row is None:
            return None
        return ReconcilerPasses(
            passes=row.passes, last_pass_at=_aware(row.last_pass_at),  # type: ignore[arg-type]
            last_repair_at=_aware(row.last_repair_at),
            last_repairs=json.loads(row.last_repairs) if row.last_repairs else {},
            totals={repair: getattr(row, f"{repair}_total") for repair in REPAIRS})

    def count_dead_letters(self, kinds: dict[str, int]) -> None:
        """Add to the count of dead-lettered messages of each kind (one of DEAD_LETTER_KINDS)."""
        at = now()
        for kind, count in kinds.items():
            self._add_to_row(dead_letters, dead_letters.c.kind == kind,
                             {"count": dead_letters.c.count + count, "last_at": at},
                             {"kind": kind, "count": count, "last_at": at})

    def _add_to_row(self, table: Table, row: ColumnElement[bool], changes: dict[str, Any],
                    first: dict[str, Any]) -> None:
        """Update the counting row, or insert it as `first` when there is none yet. Of two
        first inserts at once one meets the key; it then adds to the other's row."""
        for attempt in range(2):
            try:
                with self.transaction() as tx:
                    if tx.execute(update(table).where(row).values(changes)).rowcount == 0:
                        tx.execute(insert(table).values(first))
                return
            except IntegrityError:
                if attempt:
                    raise

    # -- what the reconciler looks for -------------------------------------------------------

    def stuck(self, older_than: timedelta, limit: int = 200) -> list[str]:
        """The stuck sagas the reconciler drives again: those in a step, not parked. (A wait
        past its deadline is checked instead: `payment_wait_expired`.)"""
        query = (select(sagas.c.order_id)
                 .where(stuck(older_than), sagas.c.state != SagaState.AWAITING_PAYMENT,
                        sagas.c.parked.is_(False))
                 .order_by(sagas.c.updated_at).limit(limit))
        return self._ids(query)

    def payment_wait_expired(self, limit: int = 200) -> list[str]:
        query = (select(sagas.c.order_id)
                 .where(sagas.c.state == SagaState.AWAITING_PAYMENT, sagas.c.parked.is_(False),
                        sagas.c.payment_deadline < now())
                 .order_by(sagas.c.payment_deadline).limit(limit))
        return self._ids(query)

    def payments_to_void(self, older_than: timedelta, limit: int = 200) -> list[str]:
        query = (select(sagas.c.order_id)
                 .where(TO_VOID, sagas.c.updated_at < now() - older_than)
                 .limit(limit))
        return self._ids(query)

    def known(self, order_ids: Iterable[str]) -> set[str]:
        ids = list(order_ids)
        if not ids:
            return set()
        return set(self._ids(select(sagas.c.order_id).where(sagas.c.order_id.in_(ids))))

    def list(self, state: str | None = None, since: datetime | None = None,
             limit: int = 1000, stuck_after: timedelta | None = None,
             parked: bool | None = None, unfinished: bool = False) -> list[Saga]:
        """Sagas newest first: of a state, created since, stuck (see `stuck`), parked or not,
        unfinished only."""
        query = select(sagas).order_by(sagas.c.created_at.desc()).limit(limit)
        if state:
            query = query.where(sagas.c.state == state)
        if stuck_after is not None:
            query = query.where(stuck(stuck_after))
        if parked is not None:
            query = query.where(sagas.c.parked.is_(parked))
        if unfinished:
            query = query.where(sagas.c.state.in_([state.value for state in LIVE]))
        if since:
            query = query.where(sagas.c.created_at >= since)
        with reading(self.engine) as connection:
            return [_saga_from_row(row, []) for row in connection.execute(query)]

    def _ids(self, query: Select) -> builtins.list[str]:
        with reading(self.engine) as connection:
            return [row[0] for row in connection.execute(query)]

    @contextmanager
    def _use(self, tx: Connection | None) -> Iterator[Connection]:
        if tx is not None:
            yield tx
        else:
            with self.transaction() as connection:
                yield connection


def _saga_from_row(row, steps) -> Saga:  # type: ignore[no-untyped-def]
    lines = tuple(OrderLine(item["ticketId"], item["quantity"],
                            Decimal(item["unitPrice"]) if "unitPrice" in item else None)
                  for item in json.loads(row.lines))
    return Saga(
        order_id=row.order_id, state=SagaState(row.state), customer_id=row.customer_id,
        total=Decimal(row.total), lines=lines,
        outcome=SagaState(row.outcome) if row.outcome else None, reason=row.reason,
        payment_requested=row.payment_requested, payment_deadline=_aware(row.payment_deadline),
        payment_to_void=row.payment_to_void, drives=row.drives, parked=row.parked,
        created_at=_aware(row.created_at), updated_at=_aware(row.updated_at),
        steps=[StepRecord(s.name, _aware(s.started_at), _aware(s.ended_at), s.attempts,  # type: ignore[arg-type]
                          s.outcome, s.error, s.task_id) for s in steps])
