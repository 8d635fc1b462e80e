"""The reservation rules, with an in-memory stock and no database."""

from __future__ import annotations

from uuid import UUID, uuid4

import pytest
from hypothesis import given
from hypothesis import strategies as st

from inventory_service.domain.exceptions import (
    AlreadyConfirmed,
    OutOfStock,
    ReservationReleased,
    Shortage,
    UnknownTicket,
)
from inventory_service.domain.model import (
    Line,
    Reservation,
    ReservationStatus,
    Ticket,
    hold,
    merge_lines,
)

ORDER = UUID("00000000-0000-4000-8000-000000000001")
A = UUID("00000000-0000-4000-8000-00000000000a")
B = UUID("00000000-0000-4000-8000-00000000000b")


class FakeStock:
    """Available counts in a dict; records the order in which tickets are taken."""

    def __init__(self, available: dict[UUID, int]):
        self.counts = dict(available)
        self.taken_in_order: list[UUID] = []

    def missing(self, ticket_ids: list[UUID]) -> list[UUID]:
        return [ticket_id for ticket_id in ticket_ids if ticket_id not in self.counts]

    def take(self, ticket_id: UUID, quantity: int) -> bool:
        self.taken_in_order.append(ticket_id)
        if self.counts[ticket_id] < quantity:
            return False
        self.counts[ticket_id] -= quantity
        return True

    def give_back(self, ticket_id: UUID, quantity: int) -> None:
        self.counts[ticket_id] += quantity

    def available(self, ticket_id: UUID) -> int:
        return self.counts[ticket_id]


def held(*lines: Line) -> Reservation:
    return Reservation(ORDER, ReservationStatus.HELD, lines)


def test_an_order_in_stock_holds_every_line_and_takes_it_from_stock():
    stock = FakeStock({A: 5, B: 2})
    reservation = hold(ORDER, [Line(A, 3), Line(B, 2)], stock)
    assert reservation == held(Line(A, 3), Line(B, 2))
    assert stock.counts == {A: 2, B: 0}


def test_one_short_ticket_holds_nothing_and_names_only_the_short_ticket():
    stock = FakeStock({A: 5, B: 1})
    with pytest.raises(OutOfStock) as refused:
        hold(ORDER, [Line(A, 3), Line(B, 2)], stock)
    assert refused.value.shortages == [Shortage(B, requested=2, available=1)]
    assert stock.counts == {A: 5, B: 1}


def test_every_short_ticket_is_named():
    stock = FakeStock({A: 0, B: 1})
    with pytest.raises(OutOfStock) as refused:
        hold(ORDER, [Line(A, 1), Line(B, 2)], stock)
    assert [s.ticket_id for s in refused.value.shortages] == [A, B]


def test_an_unknown_ticket_holds_nothing_and_is_named():
    stock = FakeStock({A: 5})
    unknown = uuid4()
    with pytest.raises(UnknownTicket) as refused:
        hold(ORDER, [Line(A, 1), Line(unknown, 1)], stock)
    assert refused.value.ticket_ids == [unknown]
    assert stock.counts == {A: 5}


def test_duplicate_lines_of_one_ticket_are_merged_and_must_fit_together():
    assert merge_lines([Line(A, 2), Line(B, 1), Line(A, 3)]) == (Line(A, 5), Line(B, 1))
    with pytest.raises(OutOfStock):
        hold(ORDER, [Line(A, 3), Line(A, 3)], FakeStock({A: 5}))


def test_tickets_are_taken_in_id_order_so_concurrent_orders_cannot_deadlock():
    stock = FakeStock({A: 5, B: 5})
    hold(ORDER, [Line(B, 1), Line(A, 1)], stock)
    assert stock.taken_in_order == [A, B]


def test_a_reservation_needs_a_line_and_a_line_a_positive_quantity():
    with pytest.raises(ValueError):
        hold(ORDER, [], FakeStock({}))
    with pytest.raises(ValueError):
        Line(A, 0)


def test_a_ticket_never_has_negative_stock():
    with pytest.raises(ValueError):
        Ticket(A, "day-one", -1)


def test_releasing_a_held_reservation_returns_its_lines_once():
    reservation = held(Line(A, 2))
    assert reservation.release() == (Line(A, 2),)
    assert reservation.status is ReservationStatus.RELEASED
    assert reservation.release() == ()


def test_a_confirmed_reservation_cannot_be_released():
    reservation = held(Line(A, 2))
    reservation.confirm()
    with pytest.raises(AlreadyConfirmed):
        reservation.release()


def test_only_a_held_reservation_is_confirmed_and_a_repeat_is_a_no_op():
    reservation = held(Line(A, 2))
    assert reservation.confirm() is True
    assert reservation.confirm() is False
    assert reservation.status is ReservationStatus.CONFIRMED


def test_a_released_reservation_cannot_be_confirmed():
    reservation = held(Line(A, 2))
    reservation.release()
    with pytest.raises(ReservationReleased):
        reservation.confirm()


def test_a_tombstone_is_released_holds_nothing_and_refuses_a_late_reserve():
    tombstone = Reservation.tombstone(ORDER)
    assert (tombstone.status, tombstone.lines) == (ReservationStatus.RELEASED, ())
    assert tombstone.release() == ()
    with pytest.raises(ReservationReleased):
        tombstone.ensure_can_be_reserved_again()


@pytest.mark.parametrize("status", [ReservationStatus.HELD, ReservationStatus.CONFIRMED])
def test_a_live_reservation_may_be_reserved_again_unchanged(status):
    Reservation(ORDER, status, (Line(A, 1),)).ensure_can_be_reserved_again()


@given(available=st.lists(st.integers(0, 5), min_size=1, max_size=4),
       wanted=st.lists(st.tuples(st.integers(0, 3), st.integers(1, 6)), min_size=1, max_size=6))
def test_a_reservation_takes_exactly_what_it_holds_or_nothing(available, wanted):
    tickets = [uuid4() for _ in available]
    stock = FakeStock(dict(zip(tickets, available, strict=True)))
    lines = [Line(tickets[i % len(tickets)], quantity) for i, quantity in wanted]
    before = dict(stock.counts)
    try:
        reservation = hold(ORDER, lines, stock)
    except OutOfStock:
        assert stock.counts == before
        return
    for line in reservation.lines:
        assert stock.counts[line.ticket_id] == before[line.ticket_id] - line.quantity
    assert all(count >= 0 for count in stock.counts.values())


def test_an_order_at_another_price_or_for_a_ticket_not_for_sale_is_refused() -> None:
    from decimal import Decimal

    from inventory_service.domain.exceptions import PriceChanged
    from inventory_service.domain.model import check_prices

    check_prices({A: Decimal("200.00")}, {A: Decimal("200.00")})
    with pytest.raises(PriceChanged) as refused:
        check_prices({A: Decimal("1.00"), B: Decimal("5.00")}, {A: Decimal("200.00"), B: None})
    assert [(d.ticket_id, d.catalogue) for d in refused.value.differences] == [
        (A, Decimal("200.00")), (B, None)]
