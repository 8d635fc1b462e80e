"""Clients waiting for their order to end: woken by its outcome, within the capacity, a few per
client address, one per order."""

from __future__ import annotations

import threading
import uuid

from order_service.service_layer.outcome_waiters import OutcomeWaiters


def test_a_waiting_client_is_woken_when_its_order_ends_and_no_other_is() -> None:
    waiters = OutcomeWaiters(capacity=4)
    mine, other = uuid.uuid4(), uuid.uuid4()
    woken: dict[str, bool] = {}

    def wait(name: str, order_id: uuid.UUID) -> None:
        with waiters.waiting(order_id, name) as waiter:
            assert waiter is not None
            woken[name] = waiter.wake.wait(timeout=5)

    threads = [threading.Thread(target=wait, args=("mine", mine)),
               threading.Thread(target=wait, args=("other", other))]
    for thread in threads:
        thread.start()
    while waiters.clients < 2:
        threading.Event().wait(0.01)
    waiters.ended(mine)
    threads[0].join(5)
    assert woken == {"mine": True}
    waiters.ended(other)
    threads[1].join(5)
    assert woken["other"] is True
    assert waiters.clients == 0


def test_beyond_the_capacity_a_client_is_told_at_once_that_it_cannot_wait() -> None:
    waiters = OutcomeWaiters(capacity=2)
    with waiters.waiting(uuid.uuid4(), "a") as first, waiters.waiting(uuid.uuid4(), "b") as second:
        assert first is not None and second is not None
        with waiters.waiting(uuid.uuid4(), "c") as third:
            assert third is None
    with waiters.waiting(uuid.uuid4(), "c") as again:
        assert again is not None   # places are given back when clients leave


def test_one_address_holds_at_most_its_share_of_the_slots_and_others_still_wait() -> None:
    waiters = OutcomeWaiters(capacity=16, per_client=2)
    with waiters.waiting(uuid.uuid4(), "10.0.0.1") as first, \
            waiters.waiting(uuid.uuid4(), "10.0.0.1") as second:
        assert first is not None and second is not None
        with waiters.waiting(uuid.uuid4(), "10.0.0.1") as third:
            assert third is None
        with waiters.waiting(uuid.uuid4(), "10.0.0.2") as someone_else:
            assert someone_else is not None
    assert waiters.clients == 0


def test_a_new_wait_on_an_order_takes_over_its_slot_and_wakes_the_earlier_waiter() -> None:
    waiters = OutcomeWaiters(capacity=16, per_client=2)
    order_id = uuid.uuid4()
    with waiters.waiting(order_id, "10.0.0.1") as earlier:
        assert earlier is not None
        for _ in range(16):   # sixteen waits on one order: one slot, one client counted
            with waiters.waiting(order_id, "10.0.0.1") as later:
                assert later is not None
                assert earlier.superseded and earlier.wake.is_set()
                assert waiters.clients == 1
    assert waiters.clients == 0


def test_an_outcome_nobody_waits_for_changes_nothing_and_a_later_wait_starts_unset() -> None:
    waiters = OutcomeWaiters(capacity=1)
    order_id = uuid.uuid4()
    waiters.ended(order_id)
    with waiters.waiting(order_id) as waiter:
        assert waiter is not None and not waiter.wake.is_set()
        waiters.ended(order_id)
        assert waiter.wake.is_set() and not waiter.superseded
    with waiters.waiting(order_id) as waiter:
        assert waiter is not None and not waiter.wake.is_set()   # a new waiter, a new event


def test_a_client_refused_in_a_row_is_told_to_wait_longer_each_time_until_it_gets_a_slot() -> None:
    waiters = OutcomeWaiters(capacity=1)
    told = []
    with waiters.waiting(uuid.uuid4(), "someone") as held:
        assert held is not None
        for _ in range(7):
            with waiters.waiting(uuid.uuid4(), "refused") as none:
                assert none is None
            told.append(waiters.retry_after_s("refused"))
    assert told == [1, 2, 4, 8, 16, 30, 30]
    with waiters.waiting(uuid.uuid4(), "refused") as given:
        assert given is not None
    assert waiters.retry_after_s("refused") == 1
