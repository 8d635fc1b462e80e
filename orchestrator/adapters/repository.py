"""The sagas and their steps' records, read and written on one connection (the unit of work's
transaction).

A saga's move is written as a compare-and-set from the state it was read in (`UPDATE ... WHERE
state IN (:was)`): of two deliveries of the same message, or a late one, exactly one moves the
saga and the others change nothing. A step costs the store one read (`get`: the saga's row, not
its history) and one write (`save` and `record_step`: the move, the step's record and its
step's running totals in one transaction).
"""

from __future__ import annotations

import json
from datetime import datetime
from decimal import Decimal
from functools import cache
from typing import Any

from sqlalchemy import bindparam, func, insert, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection, Engine, Row
from sqlalchemy.exc import IntegrityError

from glastonbury.clock import utc_now
from glastonbury.db import make_engine
from glastonbury.migrate import upgrade
from orchestrator.adapters import one_round_trip, step_totals
from orchestrator.adapters.tables import SCHEMA, aware, processed_events, saga_steps, sagas
from orchestrator.domain.model import OrderLine, OrderPlaced, SagaState
from orchestrator.domain.saga import Move, Saga, StepRecord, StepRun
from orchestrator.domain.steps import AWAIT_PAYMENT, GAVE_UP_OUTCOME

# A step runs a handful of statements; built per call, SQLAlchemy spent more CPU constructing
# and keying them than the database spent running them. Built once with bind parameters, each
# is compiled once per process and only executed after that.
SAGA_BY_ID = select(sagas).where(sagas.c.order_id == bindparam("order_id"))
NEW_SAGA = insert(sagas).values({column.name: bindparam(column.name) for column in sagas.columns
                                 if column.name not in ("outcome", "reason", "payment_deadline")})
STEP_ATTEMPTS = select(saga_steps.c.attempts).where(saga_steps.c.order_id == bindparam("order_id"),
                                                    saga_steps.c.name == bindparam("name"))


def connect(url: str) -> Engine:
    """The saga store at `url`, its schema migrated to head (one read when it is there)."""
    engine = make_engine(url)
    upgrade(engine, SCHEMA)
    return engine


class SagaRepository:
    """Sagas keyed by order id, and the records of their steps."""

    def __init__(self, connection: Connection):
        self.connection = connection

    def add(self, order: OrderPlaced) -> Saga | None:
        """Record the order's new saga, in STARTED; None when the order has one already (the
        transaction is then spoilt: leave it)."""
        saga = Saga.begin(order, utc_now())
        lines = json.dumps([{"ticketId": line.ticket_id, "quantity": line.quantity,
                             **({"unitPrice": str(line.unit_price)}
                                if line.unit_price is not None else {})}
                            for line in order.lines])
        try:
            self.connection.execute(NEW_SAGA, {
                "order_id": saga.order_id, "state": saga.state, "customer_id": saga.customer_id,
                "total": str(saga.total), "lines": lines, "payment_requested": False,
                "payment_to_void": False, "drives": 0, "parked": False,
                "created_at": saga.created_at, "updated_at": saga.updated_at})
        except IntegrityError:
            return None
        return saga

    def get(self, order_id: str) -> Saga | None:
        """The saga as it stands, without its steps' history: what a step needs to run."""
        row = self.connection.execute(SAGA_BY_ID, {"order_id": order_id}).first()
        return None if row is None else saga_from_row(row)

    def save(self, saga: Saga, run: StepRun | None = None) -> bool:
        """Write what changed in the saga since it was read, and mark it as touched. A move is
        a compare-and-set from the state it was read in: False (only touched) when the saga
        moved on meanwhile. The wait for the payment begins or ends with the move. With `run`,
        the step's record too (`record_step`), kept whether the saga moved or not. On
        PostgreSQL all of it is one statement (`one_round_trip`)."""
        move, moment = saga.move, utc_now()
        if self.connection.dialect.name == "postgresql":
            return one_round_trip.write(self.connection, saga.order_id, move, moment, run)
        stored = self._save(saga.order_id, move, moment)
        if run is not None:
            self.record_step(saga.order_id, run)
        return stored

    def _save(self, order_id: str, move: Move, moment: datetime) -> bool:
        values = {"updated_at": moment, **move.changes}
        if not move.moves:
            self._update(order_id, values)
            return True
        if not self._update(order_id, values | {"state": move.to}, was=move.was):
            self._update(order_id, {"updated_at": moment})
            return False
        self._record_wait(order_id, move, moment)
        return True

    def record_step(self, order_id: str, run: StepRun) -> None:
        """The step's record of a finished run, and its step's running totals."""
        ended = utc_now()
        began = self._record(order_id, run.name, run.started_at, ended, run.outcome,
                             run.task_id, 0 if run.counted else 1, run.error)
        step_totals.add_run(self.connection, run.name, run.outcome, began, ended)

    def count_attempt(self, order_id: str, name: str, task_id: str | None) -> int:
        """Count an attempt as it begins (a redelivered message: its worker may have died);
        how many attempts the step has had."""
        self._record(order_id, name, utc_now(), None, None, task_id, 1)
        return self._attempts(order_id, name)

    def note_step_error(self, order_id: str, name: str, error: str, task_id: str | None = None,
                        counted: bool = False) -> int:
        """Count a failed attempt of a step (it stays open), keep its error and touch the saga;
        the step's attempts so far."""
        self._record(order_id, name, utc_now(), None, None, task_id, 0 if counted else 1, error)
        self._update(order_id, {"updated_at": utc_now()})
        return self._attempts(order_id, name)

    def restart_unfinished_steps(self, order_id: str) -> None:
        """A person retries: count the attempts of unfinished or failed steps afresh."""
        self.connection.execute(update(saga_steps)
                                .where(saga_steps.c.order_id == order_id,
                                       saga_steps.c.ended_at.is_(None)
                                       | (saga_steps.c.outcome == GAVE_UP_OUTCOME))
                                .values(attempts=0))

    def record_event_once(self, event_id: str, order_id: str) -> bool:
        """Remember a message's id in this transaction; False if seen before."""
        added = self.connection.execute(
            _insert_event(self.connection.dialect.name),  # type: ignore[call-overload]
            {"event_id": event_id, "order_id": order_id, "processed_at": utc_now()})
        return added.first() is not None

    # -- the statements ---------------------------------------------------------------------------

    def _update(self, order_id: str, values: dict[str, Any],
                was: SagaState | None = None) -> bool:
        """Set these columns of the saga's row (only if it is in state `was`, when given);
        whether its row changed."""
        statement = _update_saga(was is not None, tuple(sorted(values)))
        parameters = {f"new_{column}": value for column, value in values.items()}
        parameters["key_order_id"] = order_id
        if was is not None:
            parameters["allowed"] = [was.value]
        result = self.connection.execute(statement, parameters)  # type: ignore[call-overload]
        return bool(result.rowcount == 1)

    def _record_wait(self, order_id: str, move: Move, moment: datetime) -> None:
        if move.wait_begins:
            self._record(order_id, AWAIT_PAYMENT.name, moment, None, None, None, 1)
        if move.wait_ended_as is not None:
            self.record_step(order_id, StepRun(AWAIT_PAYMENT.name, move.wait_ended_as, moment,
                                               counted=True))

    def _record(self, order_id: str, name: str, started_at: datetime, ended_at: datetime | None,
                outcome: str | None, task_id: str | None, add_attempts: int,
                error: str | None = None) -> datetime:
        """Upsert the step's record: its first start is kept, its attempts are added to, and
        the last technical error stays in view after a later success. Answers its first
        start."""
        began = self.connection.execute(_upsert_step(self.connection.dialect.name), {  # type: ignore[call-overload]
            "order_id": order_id, "name": name, "started_at": started_at, "ended_at": ended_at,
            "attempts": add_attempts, "outcome": outcome, "task_id": task_id, "error": error,
        }).scalar_one()
        return aware(began) or started_at

    def _attempts(self, order_id: str, name: str) -> int:
        return int(self.connection.execute(STEP_ATTEMPTS, {"order_id": order_id, "name": name})
                   .scalar_one())


def saga_from_row(row: Row[Any], steps: list[Row[Any]] | None = None) -> Saga:
    """A saga as its row (and its steps' records, for its timeline) stores it."""
    lines = tuple(OrderLine(item["ticketId"], item["quantity"],
                            Decimal(item["unitPrice"]) if "unitPrice" in item else None)
                  for item in json.loads(row.lines))
    return Saga(
        order_id=row.order_id, state=SagaState(row.state), customer_id=row.customer_id,
        total=Decimal(row.total), lines=lines,
        outcome=SagaState(row.outcome) if row.outcome else None, reason=row.reason,
        payment_requested=row.payment_requested, payment_deadline=aware(row.payment_deadline),
        payment_to_void=row.payment_to_void, drives=row.drives, parked=row.parked,
        created_at=aware(row.created_at), updated_at=aware(row.updated_at),
        steps=[StepRecord(s.name, aware(s.started_at), aware(s.ended_at), s.attempts,  # type: ignore[arg-type]
                          s.outcome, s.error, s.task_id) for s in steps or ()])


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
def _insert_event(dialect: str) -> object:
    insert_for = postgresql.insert if dialect == "postgresql" else sqlite.insert
    return (insert_for(processed_events)
            .values(event_id=bindparam("event_id"), order_id=bindparam("order_id"),
                    processed_at=bindparam("processed_at"))
            .on_conflict_do_nothing().returning(processed_events.c.event_id))
