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
    times = {"a": (1.0, 1.5), "b": (2.0, 12.0), "c": (95.0, 99.0), "d": (120.0, 121.0)}
    rows = tenths(times, began=0.0, ended=100.0)
    assert [row["placed"] for row in rows] == [2, 0, 0, 0, 0, 0, 0, 0, 0, 2]
    assert rows[0]["p50_ms"] == 500.0 and rows[0]["p99_ms"] == 10000.0
    assert [row["ended_per_s"] for row in rows] == [0.1, 0.1, 0, 0, 0, 0, 0, 0, 0, 0.1]
    assert [row["backlog_at_end"] for row in rows] == [1, 0, 0, 0, 0, 0, 0, 0, 0, 0]
    assert rows[-1]["from_s"] == 90.0 and rows[-1]["placed_per_s"] == 0.2
    assert rows[1]["p99_ms"] is None


def test_orders_placed_in_a_fault_s_shadow_are_left_out_of_the_p99_away_from_faults() -> None:
    # a kill at 50 s: its shadow runs from 40 s to 80 s
    times = {"before": (39.0, 39.1), "in flight": (41.0, 47.0), "just after": (79.0, 84.0),
             "after": (80.0, 80.2)}
    rows = tenths(times, began=0.0, ended=100.0, faults=[50.0])
    assert rows[3]["p99_ms"] == 100.0 and rows[3]["p99_away_from_faults_ms"] == 100.0
    assert rows[4]["p99_ms"] == 6000.0 and rows[4]["p99_away_from_faults_ms"] is None
    assert rows[7]["placed"] == 1 and rows[7]["placed_away_from_faults"] == 0
    assert rows[7]["p99_ms"] == 5000.0 and rows[7]["p99_away_from_faults_ms"] is None
    assert rows[8]["placed_away_from_faults"] == 1 and rows[8]["p99_away_from_faults_ms"] == 200.0


def tenth_rows(p99s: list[float], calm: list[float | None] | None = None) -> list[dict]:
    return [{"p99_ms": p99, "p99_away_from_faults_ms": None if calm is None else calm[n]}
            for n, p99 in enumerate(p99s)]


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


def test_latency_is_judged_away_from_the_faults_when_both_tenths_have_such_orders() -> None:
    calm = {"worker": {"slope_mb_per_10k_orders": 0.0}}
    p99s = [100.0, 5000.0, 100, 100, 100, 100, 100, 100, 100, 100.0]
    judged = flat(calm, tenth_rows(p99s, [100.0, 100.0, *[None] * 7, 170.0]), FlatBounds())
    assert judged["latency_judged_on"] == "p99_away_from_faults_ms"
    assert judged["p99_away_from_faults_last_vs_second"] == 1.7 and judged["latency"] is False
    assert judged["p99_last_vs_second"] == 0.02
    judged = flat(calm, tenth_rows(p99s, [100.0, None, *[None] * 7, 170.0]), FlatBounds())
    assert judged["latency_judged_on"] == "p99_ms" and judged["latency"] is True


def test_the_embedded_kafka_s_memory_is_reported_but_not_judged() -> None:
    parts = {"kafka": {"slope_mb_per_10k_orders": 12.0},
             "worker": {"slope_mb_per_10k_orders": 0.5}}
    judged = flat(parts, tenth_rows([100.0] * 10), FlatBounds())
    assert judged["memory"] is True and judged["steepest_part"] == "worker"
    judged = flat(parts, tenth_rows([100.0] * 10), FlatBounds(unjudged=()))
    assert judged["memory"] is False and judged["parts_above_bound"] == ["kafka"]


def test_a_bursts_steady_rate_is_taken_over_the_later_half_of_its_completions() -> None:
    from tests.chaos.soak import steady_rate

    # 100 sagas: the first 50 end in the first second (queues filling, caches warm), the other
    # 50 one every 0.1 s: the steady rate is 10 a second, the whole burst's 100 in 5.9 s.
    ends = [0.02 * i for i in range(50)] + [1.0 + 0.1 * i for i in range(50)]
    ended = {f"o{i}": ("COMPLETED", 0.0, end) for i, end in enumerate(ends)}
    assert steady_rate(ended) == 10.0
    assert steady_rate({}) is None
    assert steady_rate({"o": ("COMPLETED", 0.0, 1.0)}) is None
