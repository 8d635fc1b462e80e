"""The saga store's counters: the reconciler's passes (it runs unseen by Flower, so the
dashboard and the metrics read when it last ran and what it repaired here) and the messages
dead-lettered (payment results the bridge could not use, order messages the start refused)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, Table, insert, select, update
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError

from glastonbury.clock import utc_now
from glastonbury.db import reading
from orchestrator.adapters.tables import REPAIRS, aware, dead_letters, reconciler_passes


@dataclass(frozen=True)
class ReconcilerPasses:
    """How often the reconciler ran, when last, and what it repaired (last time and in all)."""

    passes: int
    last_pass_at: datetime
    last_repair_at: datetime | None
    last_repairs: dict[str, int]
    totals: dict[str, int]


def record_reconciler_pass(engine: Engine, repaired: dict[str, int]) -> None:
    """Count one pass and add what it repaired (counts by kind of repair, as in REPAIRS)."""
    at = utc_now()
    changes: dict[str, Any] = {"passes": reconciler_passes.c.passes + 1, "last_pass_at": at}
    changes.update({f"{repair}_total": getattr(reconciler_passes.c, f"{repair}_total")
                    + repaired.get(repair, 0) for repair in REPAIRS})
    if any(repaired.values()):
        changes.update(last_repair_at=at, last_repairs=json.dumps(repaired))
    _add_to_row(engine, reconciler_passes, reconciler_passes.c.name == "reconciler", changes,
                {"name": "reconciler", "passes": 1, "last_pass_at": at,
                 "last_repair_at": changes.get("last_repair_at"),
                 "last_repairs": changes.get("last_repairs"),
                 **{f"{repair}_total": repaired.get(repair, 0) for repair in REPAIRS}})


def reconciler_passes_so_far(engine: Engine) -> ReconcilerPasses | None:
    """The reconciler's record; None before its first pass."""
    with reading(engine) as connection:
        row = connection.execute(select(reconciler_passes)).first()
    if row is None:
        return None
    return ReconcilerPasses(
        passes=row.passes, last_pass_at=aware(row.last_pass_at),  # type: ignore[arg-type]
        last_repair_at=aware(row.last_repair_at),
        last_repairs=json.loads(row.last_repairs) if row.last_repairs else {},
        totals={repair: getattr(row, f"{repair}_total") for repair in REPAIRS})


def count_dead_letters(engine: Engine, kinds: dict[str, int]) -> None:
    """Add to the count of dead-lettered messages of each kind (one of DEAD_LETTER_KINDS)."""
    at = utc_now()
    for kind, count in kinds.items():
        _add_to_row(engine, dead_letters, dead_letters.c.kind == kind,
                    {"count": dead_letters.c.count + count, "last_at": at},
                    {"kind": kind, "count": count, "last_at": at})


def _add_to_row(engine: Engine, table: Table, row: ColumnElement[bool], changes: dict[str, Any],
                first: dict[str, Any]) -> None:
    """Update the counting row, or insert it as `first` when there is none yet. Of two first
    inserts at once one meets the key; it then adds to the other's row."""
    for attempt in range(2):
        try:
            with engine.begin() as tx:
                if tx.execute(update(table).where(row).values(changes)).rowcount == 0:
                    tx.execute(insert(table).values(first))
            return
        except IntegrityError:
            if attempt:
                raise
