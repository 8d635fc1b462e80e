"""The reconciler's pacing: a saga driven again and again waits longer before the next drive."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from types import SimpleNamespace

import pytest

from glastonbury.clock import utc_now as now
from orchestrator.domain.model import SagaState
from orchestrator.domain.saga import Saga
from orchestrator.service_layer.reconciler import _driven_lately
from tests.unit.orchestrator.fakes import RecordingDispatch

STUCK_AFTER = timedelta(seconds=10)


def saga(drives: int, idle_s: float) -> Saga:
    return Saga("o1", SagaState.STARTED, "c", Decimal("1"), (), drives=drives,
                updated_at=now() - timedelta(seconds=idle_s))


def test_a_saga_never_driven_is_driven_once_it_is_stuck() -> None:
    assert not _driven_lately(saga(drives=0, idle_s=11), STUCK_AFTER)


def test_each_drive_doubles_the_wait_before_the_next() -> None:
    assert _driven_lately(saga(drives=1, idle_s=15), STUCK_AFTER)
    assert not _driven_lately(saga(drives=1, idle_s=21), STUCK_AFTER)
    assert _driven_lately(saga(drives=2, idle_s=35), STUCK_AFTER)


def test_the_wait_stops_growing_at_eight_times_the_threshold() -> None:
    assert not _driven_lately(saga(drives=9, idle_s=81), STUCK_AFTER)


def test_orphans_behind_a_hundred_pending_orders_with_sagas_are_started(
        monkeypatch: pytest.MonkeyPatch) -> None:
    from datetime import UTC, datetime, timedelta

    from orchestrator.service_layer import reconciler

    base = datetime(2026, 1, 1, tzinfo=UTC)
    pending = [{"id": f"o{n:03}", "customerId": "c", "total": "1.00", "createdAt":
                (base + timedelta(seconds=n)).isoformat(),
                "items": [{"id": "t", "quantity": 1, "amount": 1.0}]} for n in range(250)]

    class Orders:   # pages as the order service does: `next` links to the page after
        def pending_before(self, cutoff, limit=100, following=None):  # type: ignore[no-untyped-def]
            start = int(following.rpartition("=")[2]) if following else 0
            more = start + limit < len(pending)
            return (pending[start:start + limit],
                    f"/orders?after={start + limit}" if more else None)

    monkeypatch.setattr(reconciler.queries, "known",   # 200 parked or waiting
                        lambda engine, ids: {order_id for order_id in ids if order_id < "o200"})
    dispatch = RecordingDispatch()
    parts = SimpleNamespace(orders=Orders(), engine=None, dispatch=dispatch)
    assert reconciler.start_orphan_orders(parts, timedelta(seconds=15)) == 50
    assert dispatch.sent == [f"start o{n:03}" for n in range(200, 250)]
