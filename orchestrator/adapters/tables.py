"""The saga store's tables and indexes, in SQLAlchemy Core: what the migrations are checked
against (`glastonbury.migrate`, tests/integration/test_migrations.py).

Finished sagas pile up; what is asked often never scans them: live sagas are found by their
state (an index), the metrics and the dashboard's counts of runs read `step_totals` (one row a
step, added to as each run ends), and the dashboard's other reads go through the indexes below.
The repository (`repository.py`) writes the sagas and their steps; the read models
(`saga_views`, `saga_metrics`, `saga_list`, `reconciler_queries`, `counters`) read them.
"""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import (Boolean, Column, DateTime, Float, Index, Integer, MetaData, String, Table,
                        Text)

from glastonbury.migrate import Schema

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
# (`Flow.step_failed`), their seconds in all, and how many took at most each of DURATION_BUCKETS
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


def aware(moment: datetime | None) -> datetime | None:
    """A moment read back from the store, in UTC: SQLite hands back naive datetimes, and
    everything stored here is UTC."""
    return moment.replace(tzinfo=UTC) if moment is not None and moment.tzinfo is None else moment


# The migrator's (glastonbury.migrate): the tables above and the service's migrations.
SCHEMA = Schema.of_service("orchestrator", metadata, __file__)
