"""The reservation rules, with an in-memory stock and no database."""

from __future__ import annotations

from decimal import Decimal
from uuid import UUID, uuid4

import pytest
from hypothesis import given
from hypothesis import strategies as st

from inventory_service.domain.exceptions import (
    AlreadyConfirmed,
    Excess,
    OutOfStock,
    OverCustomerLimit,
    OverOrderLimit,
    PriceChanged,
    ReservationReleased,
    Shortage,
    UnknownTicket,
)
from inventory_service.domain.model import (
    HoldRequest,
    Limits,
    Line,
    OrderedLine,
    Reservation,
    ReservationStatus,
    Ticket,
    give_back,
    hold,
    merge_lines,
)

ORDER = UUID("00000000-0000-4000-8000-000000000001")
CUSTOMER = UUID("00000000-0000-4000-8000-0000000000c1")
A = UUID("00000000-0000-4000-8000-00000000000a")
B = UUID("00000000-0000-4000-8000-00000000000b")
PRICE = Decimal("10.00")
ROOMY = Limits(per_order=100, per_customer=100)   # limits no test of stock reaches


class FakeStock:
    """Tickets at PRICE with their available counts in a dict; records the order in which
    tickets are taken."""

    def __init__(self, available: dict[UUID, int], limits: Limits = ROOMY,
                 prices: dict[UUID, Decimal | None] | None = None):
        self.counts = dict(available)
        self.limits = limits
        self.prices = prices or {}
        self.taken_in_order: list[UUID] = []

    def tickets(self, ticket_ids: list[UUID]) -> dict[UUID, Ticket]:
        return {t: Ticket(t, f"ticket-{str(t)[-1]}", self.counts[t], self.prices.get(t, PRICE),
                          self.limits) for t in ticket_ids if t in self.counts}

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


class FakeHoldings:
    """What each customer holds of each ticket, in a dict."""

    def __init__(self, held: dict[tuple[UUID, UUID], int] | None = None):
        self.counts: dict[tuple[UUID, UUID], int] = dict(held or {})

    def add(self, customer_id: UUID, ticket_id: UUID, quantity: int, limit: int) -> bool:
        if self.held(customer_id, ticket_id) + quantity > limit:
            return False
        self.counts[customer_id, ticket_id] = self.held(customer_id, ticket_id) + quantity
        return True

    def give_back(self, customer_id: UUID, ticket_id: UUID, quantity: int) -> None:
        self.counts[customer_id, ticket_id] -= quantity

    def held(self, customer_id: UUID, ticket_id: UUID) -> int:
        return self.counts.get((customer_id, ticket_id), 0)


def asking(*lines: Line, customer: UUID = CUSTOMER, price: Decimal = PRICE) -> HoldRequest:
    """The order's request for these lines, each at `price`."""
    return HoldRequest(ORDER, customer, tuple(OrderedLine(line.ticket_id, line.quantity, price)
                                              for line in lines))


def reserve(stock: FakeStock, *lines: Line, holdings: FakeHoldings | None = None,
            customer: UUID = CUSTOMER) -> Reservation:
    return hold(asking(*lines, customer=customer), stock, holdings or FakeHoldings())


def held(*lines: Line) -> Reservation:
    return Reservation(ORDER, ReservationStatus.HELD, lines, CUSTOMER)


def test_an_order_in_stock_holds_every_line_and_takes_it_from_stock():
    stock = FakeStock({A: 5, B: 2})
    reservation = reserve(stock, Line(A, 3), Line(B, 2))
    assert reservation == held(Line(A, 3), Line(B, 2))
    assert stock.counts == {A: 2, B: 0}


def test_one_short_ticket_holds_nothing_and_names_only_the_short_ticket():
    stock = FakeStock({A: 5, B: 1})
    with pytest.raises(OutOfStock) as refused:
        reserve(stock, Line(A, 3), Line(B, 2))
    assert refused.value.shortages == [Shortage(B, requested=2, available=1)]
    assert stock.counts == {A: 5, B: 1}


def test_every_short_ticket_is_named():
    stock = FakeStock({A: 0, B: 1})
    with pytest.raises(OutOfStock) as refused:
        reserve(stock, Line(A, 1), Line(B, 2))
    assert [s.ticket_id for s in refused.value.shortages] == [A, B]


def test_an_unknown_ticket_holds_nothing_and_is_named():
    stock = FakeStock({A: 5})
    unknown = uuid4()
    with pytest.raises(UnknownTicket) as refused:
        reserve(stock, Line(A, 1), Line(unknown, 1))
    assert refused.value.ticket_ids == [unknown]
    assert stock.counts == {A: 5}


def test_duplicate_lines_of_one_ticket_are_merged_and_must_fit_together():
    assert merge_lines([Line(A, 2), Line(B, 1), Line(A, 3)]) == (Line(A, 5), Line(B, 1))
    with pytest.raises(OutOfStock):
        reserve(FakeStock({A: 5}), Line(A, 3), Line(A, 3))


def test_tickets_are_taken_in_id_order_so_concurrent_orders_cannot_deadlock():
    stock = FakeStock({A: 5, B: 5})
    reserve(stock, Line(B, 1), Line(A, 1))
    assert stock.taken_in_order == [A, B]


def test_a_reservation_needs_a_line_and_a_line_a_positive_quantity():
    with pytest.raises(ValueError):
        reserve(FakeStock({}))
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
        reservation = reserve(stock, *lines)
    except OutOfStock:
        assert stock.counts == before
        return
    for line in reservation.lines:
        assert stock.counts[line.ticket_id] == before[line.ticket_id] - line.quantity
    assert all(count >= 0 for count in stock.counts.values())


def test_an_order_at_another_price_or_for_a_ticket_not_for_sale_holds_nothing() -> None:
    stock = FakeStock({A: 5, B: 5}, prices={A: Decimal("200.00"), B: None})
    with pytest.raises(PriceChanged) as refused:
        hold(HoldRequest(ORDER, CUSTOMER, (OrderedLine(A, 1, Decimal("1.00")),
                                           OrderedLine(B, 1, Decimal("5.00")))),
             stock, FakeHoldings())
    assert [(d.ticket_id, d.catalogue) for d in refused.value.differences] == [
        (A, Decimal("200.00")), (B, None)]
    assert stock.counts == {A: 5, B: 5}


def test_a_made_up_price_beside_the_right_one_for_the_same_ticket_holds_nothing() -> None:
    stock = FakeStock({A: 5})
    lines = (OrderedLine(A, 1, Decimal("0.01")), OrderedLine(A, 1, PRICE))
    with pytest.raises(PriceChanged) as refused:
        hold(HoldRequest(ORDER, CUSTOMER, lines), stock, FakeHoldings())
    assert [d.ordered_at for d in refused.value.differences] == [Decimal("0.01")]
    assert stock.counts == {A: 5}


def test_an_order_asking_more_than_one_order_may_holds_nothing_and_names_the_limit() -> None:
    stock = FakeStock({A: 100, B: 100}, limits=Limits(per_order=6, per_customer=100))
    holdings = FakeHoldings()
    with pytest.raises(OverOrderLimit) as refused:
        reserve(stock, Line(A, 1), Line(B, 4), Line(B, 3), holdings=holdings)
    assert refused.value.excesses == [Excess(B, "ticket-b", requested=7, limit=6)]
    assert stock.counts == {A: 100, B: 100} and holdings.counts == {}


def test_the_limit_per_order_is_reached_but_not_passed() -> None:
    stock = FakeStock({A: 100}, limits=Limits(per_order=6, per_customer=100))
    assert reserve(stock, Line(A, 2), Line(A, 4)).lines == (Line(A, 6),)


def test_a_customer_holds_at_most_their_limit_across_their_orders() -> None:
    stock = FakeStock({A: 100, B: 100}, limits=Limits(per_order=6, per_customer=6))
    holdings = FakeHoldings()
    reserve(stock, Line(A, 4), holdings=holdings)
    with pytest.raises(OverCustomerLimit) as refused:
        reserve(stock, Line(A, 3), Line(B, 1), holdings=holdings)
    assert refused.value.excesses == [Excess(A, "ticket-a", requested=3, limit=6, held=4)]
    # B's count was given back: nothing of the order is held
    assert (holdings.held(CUSTOMER, A), holdings.held(CUSTOMER, B)) == (4, 0)
    assert stock.counts == {A: 96, B: 100}
    reserve(stock, Line(A, 2), holdings=holdings)
    assert holdings.held(CUSTOMER, A) == 6


def test_another_customer_is_not_held_back_by_the_first_ones_holdings() -> None:
    stock = FakeStock({A: 100}, limits=Limits(per_order=6, per_customer=6))
    holdings = FakeHoldings({(CUSTOMER, A): 6})
    other = UUID("00000000-0000-4000-8000-0000000000c2")
    reserve(stock, Line(A, 6), holdings=holdings, customer=other)
    assert holdings.counts == {(CUSTOMER, A): 6, (other, A): 6}


def test_a_limit_per_customer_below_the_limit_per_order_still_holds() -> None:
    stock = FakeStock({A: 100}, limits=Limits(per_order=6, per_customer=2))
    with pytest.raises(OverCustomerLimit):
        reserve(stock, Line(A, 3))


def test_out_of_stock_takes_nothing_off_the_customers_count() -> None:
    stock = FakeStock({A: 5, B: 1}, limits=Limits(per_order=6, per_customer=6))
    holdings = FakeHoldings()
    with pytest.raises(OutOfStock):
        reserve(stock, Line(A, 2), Line(B, 2), holdings=holdings)
    assert all(count == 0 for count in holdings.counts.values())
    assert stock.counts == {A: 5, B: 1}


def test_giving_back_returns_the_stock_and_takes_the_lines_off_the_customers_count() -> None:
    stock = FakeStock({A: 10}, limits=Limits(per_order=6, per_customer=6))
    holdings = FakeHoldings()
    reservation = reserve(stock, Line(A, 6), holdings=holdings)
    give_back(reservation.customer_id, reservation.release(), holdings, stock)
    assert (stock.counts, holdings.counts) == ({A: 10}, {(CUSTOMER, A): 0})
    reserve(stock, Line(A, 6), holdings=holdings)   # room again for the customer


def test_giving_back_a_reservation_of_no_known_customer_counts_nothing_off() -> None:
    stock, holdings = FakeStock({A: 4}), FakeHoldings({(CUSTOMER, A): 2})
    give_back(None, (Line(A, 1),), holdings, stock)
    assert (stock.counts, holdings.counts) == ({A: 5}, {(CUSTOMER, A): 2})


def test_limits_are_at_least_one() -> None:
    with pytest.raises(ValueError):
        Limits(per_order=0)
    with pytest.raises(ValueError):
        Limits(per_customer=0)


@given(steps=st.lists(st.tuples(st.booleans(), st.integers(1, 4)), min_size=1, max_size=20))
def test_what_a_customer_holds_is_what_their_live_reservations_hold_and_within_the_limit(steps):
    stock = FakeStock({A: 1000}, limits=Limits(per_order=4, per_customer=6))
    holdings = FakeHoldings()
    live: list[Reservation] = []
    for release_one, quantity in steps:
        if release_one and live:
            released = live.pop(0)
            give_back(released.customer_id, released.release(), holdings, stock)
        else:
            try:
                live.append(reserve(stock, Line(A, quantity), holdings=holdings))
            except OverCustomerLimit:
                pass
        held_now = sum(r.lines[0].quantity for r in live)
        assert holdings.held(CUSTOMER, A) == held_now <= 6
        assert stock.counts[A] == 1000 - held_now
