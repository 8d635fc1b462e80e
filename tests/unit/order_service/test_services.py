"""The use cases with fakes: when the saga starts, idempotency keys, outcomes."""

from __future__ import annotations

import uuid
from decimal import Decimal

import pytest

from order_service.domain.model import (ConflictingOutcome, IdempotencyKeyReused, OrderLine,
                                        OrderStatus)
from order_service.service_layer import services
from tests.unit.order_service.fakes import FakeSagaStarter, FakeUnitOfWork

LINE = OrderLine(uuid.uuid4(), "day-one", Decimal("200.00"), 1)
CUSTOMER = uuid.uuid4()


def a_command(key: str | None = None, customer: uuid.UUID = CUSTOMER,
              lines: list[OrderLine] | None = None) -> services.PlaceOrder:
    return services.PlaceOrder(customer, Decimal("10.5"), lines or [LINE], key)


def test_the_order_is_committed_before_its_saga_starts() -> None:
    uow = FakeUnitOfWork()
    starter = FakeSagaStarter(uow)
    order = services.place_order(a_command(), uow, starter)
    assert starter.commits_before_start == [1]
    assert starter.messages[0]["orderId"] == str(order.id)
    assert uow.orders.get(order.id).status is OrderStatus.PENDING


def test_the_same_idempotency_key_returns_the_same_order_and_starts_one_saga() -> None:
    uow, starter = FakeUnitOfWork(), FakeSagaStarter()
    first = services.place_order(a_command("key-1"), uow, starter)
    again = services.place_order(a_command("key-1"), uow, starter)
    assert again.id == first.id
    assert len(starter.messages) == 1


def test_another_customers_key_of_the_same_spelling_is_another_key() -> None:
    uow, starter = FakeUnitOfWork(), FakeSagaStarter()
    mine = services.place_order(a_command("key-1"), uow, starter)
    theirs = services.place_order(a_command("key-1", customer=uuid.uuid4()), uow, starter)
    assert theirs.id != mine.id and theirs.customer_id != mine.customer_id
    assert len(starter.messages) == 2


def test_a_key_sent_again_with_another_order_is_refused_and_starts_nothing() -> None:
    uow, starter = FakeUnitOfWork(), FakeSagaStarter()
    services.place_order(a_command("key-1"), uow, starter)
    with pytest.raises(IdempotencyKeyReused):
        services.place_order(a_command("key-1", lines=[LINE, LINE]), uow, starter)
    assert len(starter.messages) == 1 and len(uow.orders.orders) == 1


def test_orders_without_a_key_are_all_distinct() -> None:
    uow, starter = FakeUnitOfWork(), FakeSagaStarter()
    ids = {services.place_order(a_command(), uow, starter).id for _ in range(3)}
    assert len(ids) == 3 and len(starter.messages) == 3


def test_an_unknown_order_is_not_found() -> None:
    with pytest.raises(services.OrderNotFound):
        services.get_order(uuid.uuid4(), FakeUnitOfWork())


def test_recording_an_outcome_commits_once_and_a_repeat_commits_nothing() -> None:
    uow = FakeUnitOfWork()
    order = services.place_order(a_command(), uow, FakeSagaStarter())
    services.record_outcome(order.id, OrderStatus.COMPLETED, None, uow)
    services.record_outcome(order.id, OrderStatus.COMPLETED, None, uow)
    assert uow.commits == 2  # the placing and the first outcome


def test_a_conflicting_outcome_is_refused() -> None:
    uow = FakeUnitOfWork()
    order = services.place_order(a_command(), uow, FakeSagaStarter())
    services.record_outcome(order.id, OrderStatus.REJECTED, None, uow)
    with pytest.raises(ConflictingOutcome):
        services.record_outcome(order.id, OrderStatus.COMPLETED, None, uow)


def test_recording_the_outcome_of_an_unknown_order_is_not_found() -> None:
    with pytest.raises(services.OrderNotFound):
        services.record_outcome(uuid.uuid4(), OrderStatus.COMPLETED, None, FakeUnitOfWork())
