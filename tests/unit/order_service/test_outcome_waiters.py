"""Clients waiting for their order to end: woken by its outcome, never more than the capacity."""

from __future__ import annotations

import threading
import uuid

from order_service.service_layer.outcome_waiters import OutcomeWaiters


def test_a_waiting_client_is_woken_when_its_order_ends_and_no_other_is() -> None:
    waiters = OutcomeWaiters(capacity=4)
    mine, other = uuid.uuid4(), uuid.uuid4()
    woken: dict[str, bool] = {}

    def wait(name: str, order_id: uuid.UUID) -> None:
        with waiters.watching(order_id) as ended:
            assert ended is not None
            woken[name] = ended.wait(timeout=5)

    threads = [threading.Thread(target=wait, args=("mine", mine)),
               threading.Thread(target=wait, args=("mine too", mine)),
               threading.Thread(target=wait, args=("other", other))]
    for thread in threads:
        thread.start()
    while waiters.clients < 3:
        threading.Event().wait(0.01)
    waiters.ended(mine)
    threads[0].join(5), threads[1].join(5)
    assert woken == {"mine": True, "mine too": True}
    waiters.ended(other)
    threads[2].join(5)
    assert woken["other"] is True
    assert waiters.clients == 0


def test_beyond_the_capacity_a_client_is_told_at_once_that_it_cannot_wait() -> None:
    waiters = OutcomeWaiters(capacity=2)
    with waiters.watching(uuid.uuid4()) as first, waiters.watching(uuid.uuid4()) as second:
        assert first is not None and second is not None
        with waiters.watching(uuid.uuid4()) as third:
            assert third is None
    with waiters.watching(uuid.uuid4()) as again:
        assert again is not None   # places are given back when clients leave


def test_an_outcome_nobody_waits_for_changes_nothing_and_a_later_watch_starts_unset() -> None:
    waiters = OutcomeWaiters(capacity=1)
    order_id = uuid.uuid4()
    waiters.ended(order_id)
    with waiters.watching(order_id) as ended:
        assert ended is not None and not ended.is_set()
    waiters.ended(order_id)
    with waiters.watching(order_id) as ended:
        assert ended is not None and not ended.is_set()   # an outcome wakes who waited then
