"""The chaos and race verdict (tests/chaos/verdict.py) on snapshots written by hand."""

from __future__ import annotations

from decimal import Decimal

from tests.chaos.verdict import Snapshot, judge


def completed(total: str, payment: str | None) -> Snapshot:
    return Snapshot(
        orders={"o1": {"status": "COMPLETED", "key": None}},
        sagas={"o1": {"state": "COMPLETED", "parked": False, "payment_to_void": False,
                      "total": Decimal(total)}},
        reservations={"o1": "CONFIRMED"}, lines={"o1": [("t1", 1)]},
        payments={} if payment is None else {"o1": payment}, available={"t1": 4})


def test_a_completed_order_is_sold_and_paid() -> None:
    assert judge(completed("200.00", "APPROVED"), {"t1": 5}, ["o1"]).ok


def test_a_completed_order_without_an_approved_payment_is_a_problem() -> None:
    for payment in (None, "CANCELLED", "PENDING"):
        verdict = judge(completed("200.00", payment), {"t1": 5}, ["o1"])
        assert verdict.problems == [f"order o1 (COMPLETED, reservation CONFIRMED, payment "
                                    f"{payment}) completed unsold or unpaid"], payment


def test_an_order_with_nothing_to_pay_completes_without_a_payment_and_only_without_one() -> None:
    assert judge(completed("0.00", None), {"t1": 5}, ["o1"]).ok
    assert not judge(completed("0.00", "CANCELLED"), {"t1": 5}, ["o1"]).ok


def held_by(customer_count: int, limit: int = 6) -> Snapshot:
    """Customer c1's completed order of one t1, with the inventory counting `customer_count`."""
    snapshot = completed("200.00", "APPROVED")
    snapshot.customers = {"o1": "c1"}
    snapshot.holdings = {("c1", "t1"): customer_count}
    snapshot.per_customer = {"t1": limit}
    return snapshot


def test_what_a_customer_holds_is_counted_as_their_reservations_hold() -> None:
    assert judge(held_by(1), {"t1": 5}, ["o1"]).ok
    assert judge(held_by(0), {"t1": 5}, ["o1"]).problems == [
        "customer c1 holds 0 of ticket t1 by the inventory's count, 1 by their reservations"]


def test_a_customer_above_a_tickets_limit_is_a_problem() -> None:
    assert judge(held_by(1, limit=0), {"t1": 5}, ["o1"]).problems == [
        "customer c1 holds 1 of ticket t1, above its limit of 0"]


def test_an_order_charged_other_than_its_total_is_a_problem() -> None:
    snapshot = completed("200.00", "APPROVED")
    snapshot.charged = {"o1": Decimal("200.00")}
    assert judge(snapshot, {"t1": 5}, ["o1"]).ok
    snapshot.charged = {"o1": Decimal("400.00")}
    assert judge(snapshot, {"t1": 5}, ["o1"]).problems == [
        "order o1 (COMPLETED, reservation CONFIRMED, payment APPROVED) was charged 400.00 for "
        "a total of 200.00"]


def test_money_taken_for_an_order_still_under_way_is_named() -> None:
    snapshot = completed("200.00", "APPROVED")
    snapshot.orders["o1"]["status"] = "PAYMENT_PENDING"
    problems = judge(snapshot, {"t1": 5}, ["o1"]).problems
    assert ("order o1 (PAYMENT_PENDING, reservation CONFIRMED, payment APPROVED): the money was "
            "taken but the tickets are not sold") in problems


def test_parked_sagas_are_counted_by_their_reason() -> None:
    snapshot = completed("200.00", "APPROVED")
    snapshot.sagas["o1"].update(parked=True, reason="too many drives")
    assert judge(snapshot, {"t1": 5}, ["o1"]).figures["parked_by_reason"] == {
        "too many drives": 1}
