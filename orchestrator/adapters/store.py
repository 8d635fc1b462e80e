"""The saga store: every saga's state and the record of every step, in SQLAlchemy Core.

Transitions are compare-and-set (`UPDATE ... WHERE state IN (...)`): of two deliveries of the
same message, or a late one, exactly one moves the saga and the others change nothing.
"""

from __future__ import annotations

import builtins
import json
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from sqlalchemy import (Boolean, Column, DateTime, Integer, MetaData, Select, String, Table,
                        Text, and_, insert, select, true, update)
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import IntegrityError

from glastonbury.db import create_schema, make_engine
from orchestrator.domain.model import OrderLine, OrderPlaced, Saga, SagaState, StepRecord, TERMINAL

metadata = MetaData()

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

processed_events = Table(
    "processed_events", metadata,
    Column("event_id", String(64), primary_key=True),
    Column("order_id", String(64), nullable=False),
    Column("processed_at", DateTime(timezone=True), nullable=False),
)


def now() -> datetime:
    return datetime.now(UTC)


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
        create_schema(engine, metadata)
        return cls(engine)

    @contextmanager
    def transaction(self) -> Iterator[Connection]:
        with self.engine.begin() as connection:
            yield connection

    # -- sagas -------------------------------------------------------------------------------

    def create_if_absent(self, order: OrderPlaced) -> bool:
        """Record a new saga in STARTED; False when the order has one already."""
        lines = json.dumps([{"ticketId": line.ticket_id, "quantity": line.quantity}
                            for line in order.lines])
        moment = now()
        try:
            with self.transaction() as tx:
                tx.execute(insert(sagas).values(
                    order_id=order.order_id, state=SagaState.STARTED, customer_id=order.customer_id,
                    total=str(order.total), lines=lines, payment_requested=False,
                    payment_to_void=False, drives=0, parked=False, created_at=moment,
                    updated_at=moment))
        except IntegrityError:
            return False
        return True

    def get(self, order_id: str, tx: Connection | None = None) -> Saga | None:
        with self._use(tx) as connection:
            row = connection.execute(select(sagas).where(sagas.c.order_id == order_id)).first()
            if row is None:
                return None
            steps = connection.execute(select(saga_steps).where(saga_steps.c.order_id == order_id)
                                       .order_by(saga_steps.c.started_at)).all()
        return _saga_from_row(row, steps)

    def transition(self, order_id: str, allowed: Iterable[SagaState], to: SagaState,
                   tx: Connection | None = None, **changes: object) -> bool:
        """Move the saga to `to` if it is in one of `allowed`; False (no change) otherwise."""
        with self._use(tx) as connection:
            result = connection.execute(
                update(sagas)
                .where(and_(sagas.c.order_id == order_id, sagas.c.state.in_(list(allowed))))
                .values(state=to, updated_at=now(), **changes))
        return result.rowcount == 1

    def update(self, order_id: str, tx: Connection | None = None, **changes: object) -> None:
        """Change fields other than the state (flags, counters) and mark the saga as touched."""
        with self._use(tx) as connection:
            connection.execute(update(sagas).where(sagas.c.order_id == order_id)
                               .values(updated_at=now(), **changes))

    # -- steps -------------------------------------------------------------------------------

    def begin_step(self, order_id: str, name: str, task_id: str | None) -> None:
        """Count an attempt at a step; its start is its first attempt."""
        moment = now()
        with self.transaction() as tx:
            changed = tx.execute(
                update(saga_steps)
                .where(and_(saga_steps.c.order_id == order_id, saga_steps.c.name == name))
                .values(attempts=saga_steps.c.attempts + 1, task_id=task_id, ended_at=None,
                        outcome=None)).rowcount
            if not changed:
                tx.execute(insert(saga_steps).values(order_id=order_id, name=name,
                                                     started_at=moment, attempts=1,
                                                     task_id=task_id))
            tx.execute(update(sagas).where(sagas.c.order_id == order_id).values(updated_at=moment))

    def restart_unfinished_steps(self, order_id: str) -> None:
        """A person retries: count the attempts of unfinished or failed steps afresh."""
        with self.transaction() as tx:
            tx.execute(update(saga_steps)
                       .where(saga_steps.c.order_id == order_id,
                              saga_steps.c.ended_at.is_(None) | (saga_steps.c.outcome == "failed"))
                       .values(attempts=0))

    def end_step(self, order_id: str, name: str, outcome: str, error: str | None = None,
                 tx: Connection | None = None, unless_ended: bool = False) -> None:
        """Close a step with its outcome; `unless_ended` keeps an outcome recorded before."""
        still_open = saga_steps.c.ended_at.is_(None) if unless_ended else true()
        with self._use(tx) as connection:
            connection.execute(
                update(saga_steps)
                .where(and_(saga_steps.c.order_id == order_id, saga_steps.c.name == name,
                            still_open))
                .values(ended_at=now(), outcome=outcome,
                        # a step that succeeded after retries keeps its last error in view
                        **({"error": error} if error is not None else {})))

    def note_step_error(self, order_id: str, name: str, error: str) -> None:
        """Keep the last technical error of a step that is being retried."""
        with self.transaction() as tx:
            tx.execute(update(saga_steps)
                       .where(and_(saga_steps.c.order_id == order_id, saga_steps.c.name == name))
                       .values(error=error))

    # -- messages ----------------------------------------------------------------------------

    def record_event_once(self, event_id: str, order_id: str, tx: Connection) -> bool:
        """Remember a message's id inside the caller's transaction; False if seen before."""
        seen = tx.execute(select(processed_events.c.event_id)
                          .where(processed_events.c.event_id == event_id)).first()
        if seen:
            return False
        tx.execute(insert(processed_events).values(event_id=event_id, order_id=order_id,
                                                   processed_at=now()))
        return True

    # -- what the reconciler looks for -------------------------------------------------------

    def stuck(self, older_than: timedelta, limit: int = 200) -> list[str]:
        """Sagas in a step (not waiting for the payment) untouched for longer than `older_than`."""
        waiting_or_done = [*TERMINAL, SagaState.AWAITING_PAYMENT]
        query = (select(sagas.c.order_id)
                 .where(sagas.c.state.not_in(waiting_or_done), sagas.c.parked.is_(False),
                        sagas.c.updated_at < now() - older_than)
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
                 .where(sagas.c.payment_to_void.is_(True), sagas.c.updated_at < now() - older_than)
                 .limit(limit))
        return self._ids(query)

    def known(self, order_ids: Iterable[str]) -> set[str]:
        ids = list(order_ids)
        if not ids:
            return set()
        return set(self._ids(select(sagas.c.order_id).where(sagas.c.order_id.in_(ids))))

    def list(self, state: str | None = None, since: datetime | None = None,
             limit: int = 1000) -> list[Saga]:
        query = select(sagas).order_by(sagas.c.created_at.desc()).limit(limit)
        if state:
            query = query.where(sagas.c.state == state)
        if since:
            query = query.where(sagas.c.created_at >= since)
        with self.engine.connect() as connection:
            return [_saga_from_row(row, []) for row in connection.execute(query)]

    def _ids(self, query: Select) -> builtins.list[str]:
        with self.engine.connect() as connection:
            return [row[0] for row in connection.execute(query)]

    @contextmanager
    def _use(self, tx: Connection | None) -> Iterator[Connection]:
        if tx is not None:
            yield tx
        else:
            with self.transaction() as connection:
                yield connection


def _saga_from_row(row, steps) -> Saga:  # type: ignore[no-untyped-def]
    lines = tuple(OrderLine(item["ticketId"], item["quantity"]) for item in json.loads(row.lines))
    return Saga(
        order_id=row.order_id, state=SagaState(row.state), customer_id=row.customer_id,
        total=Decimal(row.total), lines=lines,
        outcome=SagaState(row.outcome) if row.outcome else None, reason=row.reason,
        payment_requested=row.payment_requested, payment_deadline=_aware(row.payment_deadline),
        payment_to_void=row.payment_to_void, drives=row.drives, parked=row.parked,
        created_at=_aware(row.created_at), updated_at=_aware(row.updated_at),
        steps=[StepRecord(s.name, _aware(s.started_at), _aware(s.ended_at), s.attempts,  # type: ignore[arg-type]
                          s.outcome, s.error, s.task_id) for s in steps])
