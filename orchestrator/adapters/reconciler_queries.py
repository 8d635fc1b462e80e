"""What the reconciler looks for in the saga store: sagas that stopped moving, waits past their
deadline, payments to give back, orders it knows. Each starts from the few rows it is about (an
index), never from the whole history.

`stuck` is the one definition of a stuck saga: the reconciler, the dashboard and the command
line all ask it.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import timedelta
from typing import Any

from sqlalchemy import ColumnElement, Select, and_, or_, select
from sqlalchemy.engine import Engine

from glastonbury.clock import utc_now
from glastonbury.db import reading
from orchestrator.adapters.tables import TO_VOID, sagas
from orchestrator.domain.model import LIVE, SagaState


def stuck(stuck_after: timedelta) -> ColumnElement[bool]:
    """On a row of `sagas`: not finished, and nothing was expected of it for longer than
    `stuck_after` -- since its last change or, waiting for its payment, since that wait's
    deadline (the wait is untouched by design until then)."""
    cutoff = utc_now() - stuck_after
    return and_(sagas.c.state.in_([state.value for state in LIVE]),   # the few, by their index
                sagas.c.updated_at < cutoff,
                or_(sagas.c.state != SagaState.AWAITING_PAYMENT.value,
                    sagas.c.payment_deadline.is_(None), sagas.c.payment_deadline < cutoff))


def stuck_sagas(engine: Engine, older_than: timedelta, limit: int = 200) -> list[str]:
    """The stuck sagas the reconciler drives again: those in a step, not parked. (A wait past
    its deadline is checked instead: `payment_waits_expired`.)"""
    return _ids(engine, select(sagas.c.order_id)
                .where(stuck(older_than), sagas.c.state != SagaState.AWAITING_PAYMENT,
                       sagas.c.parked.is_(False))
                .order_by(sagas.c.updated_at).limit(limit))


def payment_waits_expired(engine: Engine, limit: int = 200) -> list[str]:
    """Sagas waiting for their payment's result past its deadline, not parked."""
    return _ids(engine, select(sagas.c.order_id)
                .where(sagas.c.state == SagaState.AWAITING_PAYMENT, sagas.c.parked.is_(False),
                       sagas.c.payment_deadline < utc_now())
                .order_by(sagas.c.payment_deadline).limit(limit))


def payments_to_void(engine: Engine, older_than: timedelta, limit: int = 200) -> list[str]:
    """Sagas owing a payment back, untouched for longer than `older_than`."""
    return _ids(engine, select(sagas.c.order_id)
                .where(TO_VOID, sagas.c.updated_at < utc_now() - older_than).limit(limit))


def known(engine: Engine, order_ids: Iterable[str]) -> set[str]:
    """Which of these orders have a saga."""
    ids = list(order_ids)
    if not ids:
        return set()
    return set(_ids(engine, select(sagas.c.order_id).where(sagas.c.order_id.in_(ids))))


def _ids(engine: Engine, query: Select[Any]) -> list[str]:
    with reading(engine) as connection:
        return [row[0] for row in connection.execute(query)]
