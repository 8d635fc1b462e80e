"""Recovery after a chaos run's faults (tests/chaos/recovery.py) on orders written by hand."""

from __future__ import annotations

import pytest

from tests.chaos.harness import LINKS, chosen
from tests.chaos.recovery import NO_FAULT, Answer, Disruption, recovery_by_kind, recovery_s

CUT = Disruption("blackhole", "redis", began=100.0, ended=110.0)


def order(created: float, ended: float, status: str = "COMPLETED") -> dict:
    return {"status": status, "created_at": created, "updated_at": ended}


def test_a_fault_recovers_when_the_last_order_it_touched_ends() -> None:
    orders = {"before": order(50, 60),            # ended before the fault: untouched
              "during": order(90, 115),           # under way when it began
              "placed": order(105, 118),          # placed while it lasted
              "after": order(111, 130)}           # placed after it ended: untouched
    assert recovery_s(CUT, orders) == (8.0, 2)


def test_a_fault_whose_orders_all_ended_while_it_lasted_recovered_at_once() -> None:
    assert recovery_s(CUT, {"o": order(101, 102)}) == (0.0, 1)


def test_an_order_that_never_ended_means_the_fault_never_recovered() -> None:
    assert recovery_s(CUT, {"o": order(101, 102, "PAYMENT_PENDING")}) == (None, 1)


def test_the_customers_answers_go_to_the_fault_they_were_given_during() -> None:
    answers = [Answer(105.0, 2.0, "200 under way", None), Answer(200.0, 0.1, "200 ended", None)]
    rows = recovery_by_kind([CUT], {"o": order(101, 112)}, answers)
    assert rows["blackhole"]["customer_saw"] == {"200 under way": 1}
    assert rows["blackhole"]["recovery_s_max"] == 2.0
    assert rows[NO_FAULT]["customer_saw"] == {"200 ended": 1}


def test_a_list_of_victims_or_links_names_known_ones_only() -> None:
    assert chosen(None, LINKS, "CHAOS_NETWORK") == LINKS
    assert chosen("none", LINKS, "CHAOS_NETWORK") == ()
    assert chosen("redis, kafka", LINKS, "CHAOS_NETWORK") == ("redis", "kafka")
    with pytest.raises(ValueError, match="CHAOS_NETWORK names rabbit"):
        chosen("redis,rabbit", LINKS, "CHAOS_NETWORK")
