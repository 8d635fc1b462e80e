"""The soak's figures (tests/chaos/soak_figures.py) on samples and order times written by hand."""

from __future__ import annotations

import pytest

from tests.chaos.soak_figures import FlatBounds, flat, memory, slope_within_lives, tenths


def test_a_restart_does_not_read_as_memory_falling_each_life_keeps_its_own_intercept() -> None:
    # 1 MB more every 1,000 orders; the restart at 3,000 orders starts again 50 MB lower
    first = [(1, orders, 100 + orders / 1000) for orders in (0, 1000, 2000, 3000)]
    second = [(2, orders, 50 + orders / 1000) for orders in (3000, 4000, 5000, 6000)]
    assert slope_within_lives(first + second) == pytest.approx(1 / 1000)


def test_a_slope_needs_a_life_of_three_samples_with_orders_moving() -> None:
    assert slope_within_lives([(1, 0, 10.0), (1, 100, 11.0), (2, 200, 5.0)]) is None
    assert slope_within_lives([(1, 100, 10.0), (1, 100, 11.0), (1, 100, 12.0)]) is None


def sample(t: float, orders: int, **parts: tuple[int, float]) -> dict:
    return {"t": t, "orders": orders, "parts": {name: list(life) for name, life in parts.items()}}


def test_memory_leaves_out_the_first_tenth_and_a_new_life_s_warm_up() -> None:
    samples = [sample(0, 0, worker=(7, 500.0), redis=(9, 10.0)),         # the first tenth
               *(sample(t, t * 100, worker=(7, 100 + t), redis=(9, 10.0)) for t in (10, 20, 30)),
               sample(40, 4000, redis=(9, 10.0)),                         # the worker was down
               sample(41, 4100, worker=(8, 999.0), redis=(9, 10.0)),      # warming up
               *(sample(t, t * 100, worker=(8, 60 + t), redis=(9, 10.0)) for t in (80, 90, 100))]
    figures = memory(samples, fit_from=10, warm_up_s=30)
    assert figures["worker"] == {"start_mb": 500.0, "end_mb": 160.0, "peak_mb": 999.0,
                                 "lives": 2, "samples_fitted": 6,
                                 "slope_mb_per_10k_orders": 100.0}   # 1 MB a 100 orders
    assert figures["redis"]["slope_mb_per_10k_orders"] == 0.0
    assert figures["redis"]["lives"] == 1


def test_tenths_count_latency_by_creation_and_throughput_by_the_end_of_each_saga() -> None:
    times = {"a": (1.0, 1.5), "b": (2.0, 5.0), "c": (95.0, 99.0), "d": (120.0, 121.0)}
    rows = tenths(times, began=0.0, ended=100.0)
    assert [row["placed"] for row in rows] == [2, 0, 0, 0, 0, 0, 0, 0, 0, 2]
    assert rows[0]["p50_ms"] == 500.0 and rows[0]["p99_ms"] == 3000.0
    assert [row["ended_per_s"] for row in rows] == [0.2, 0, 0, 0, 0, 0, 0, 0, 0, 0.1]
    assert rows[-1]["from_s"] == 90.0 and rows[-1]["placed_per_s"] == 0.2
    assert rows[1]["p99_ms"] is None


def tenth_rows(p99s: list[float]) -> list[dict]:
    return [{"p99_ms": p99} for p99 in p99s]


def test_flat_names_the_part_whose_memory_climbs_and_compares_the_last_tenth_with_the_second(
        ) -> None:
    parts = {"worker": {"slope_mb_per_10k_orders": 3.5},
             "order": {"slope_mb_per_10k_orders": -0.4},
             "beat": {"slope_mb_per_10k_orders": None}}
    judged = flat(parts, tenth_rows([900, 100, 120, 110, 100, 100, 100, 100, 100, 140]),
                  FlatBounds(mb_per_10k=2.0, p99_ratio=1.5))
    assert judged["memory"] is False and judged["parts_above_bound"] == ["worker"]
    assert judged["steepest_part"] == "worker"
    assert judged["latency"] is True and judged["p99_last_vs_second"] == 1.4
    assert judged["ok"] is False
    calm = {"worker": {"slope_mb_per_10k_orders": 1.9}}
    judged = flat(calm, tenth_rows([100, 100, 100, 100, 100, 100, 100, 100, 100, 151]),
                  FlatBounds(mb_per_10k=2.0, p99_ratio=1.5))
    assert judged["memory"] is True and judged["latency"] is False and judged["ok"] is False
