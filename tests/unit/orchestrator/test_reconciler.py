"""The reconciler's pacing: a saga driven again and again waits longer before the next drive."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

from orchestrator.adapters.store import now
from orchestrator.domain.model import Saga, SagaState
from orchestrator.reconciler import _driven_lately

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
