"""Sagas as the command line and the dashboard list and show them: a selection newest first,
and one saga with its timeline (the record of every step it ran)."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.engine import Engine

from glastonbury.db import reading
from orchestrator.adapters.reconciler_queries import stuck
from orchestrator.adapters.repository import SAGA_BY_ID, saga_from_row
from orchestrator.adapters.tables import saga_steps, sagas
from orchestrator.domain.model import LIVE
from orchestrator.domain.saga import Saga


def list_sagas(engine: Engine, state: str | None = None, since: datetime | None = None,
               limit: int = 1000, stuck_after: timedelta | None = None,
               parked: bool | None = None, unfinished: bool = False) -> list[Saga]:
    """Sagas newest first: of a state, created since, stuck (see `stuck`), parked or not,
    unfinished only. Without their steps' records."""
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
    with reading(engine) as connection:
        return [saga_from_row(row) for row in connection.execute(query)]


def timeline(engine: Engine, order_id: str) -> Saga | None:
    """The saga with the record of every step it ran, in the order they began."""
    with reading(engine) as connection:
        row = connection.execute(SAGA_BY_ID, {"order_id": order_id}).first()
        if row is None:
            return None
        steps = connection.execute(select(saga_steps).where(saga_steps.c.order_id == order_id)
                                   .order_by(saga_steps.c.started_at)).all()
    return saga_from_row(row, list(steps))
