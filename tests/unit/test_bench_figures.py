"""The bench's arithmetic: percentiles, the floor's worker, the completion curve, the headline."""

from __future__ import annotations

from bench.driver import summarise
from bench.floor import percentile
import sys

import pytest

from bench.make_up import compare
from bench.run import (SAGA_HOPS, floor_worker_command, headline, markdown, parse_arguments,
                       ratios, ratios_markdown)


def test_percentiles_are_nearest_rank() -> None:
    values = [float(v) for v in range(1, 101)]
    assert percentile(values, 50) == 50.0
    assert percentile(values, 99) == 99.0
    assert percentile([7.0], 99) == 7.0
    assert percentile([], 50) == 0.0


def test_the_floor_worker_runs_the_saga_workers_own_command_on_its_own_app_and_queue() -> None:
    saga_worker = ("celery -A orchestrator worker -E --pool solo --loglevel INFO "
                   "--hostname worker@%h")
    assert floor_worker_command(saga_worker) == (
        "celery -A bench.floor worker -E --pool solo --loglevel INFO --hostname floor@%h "
        "-Q bench.floor")


def test_round_trips_are_counted_unless_switched_off_by_flag_or_environment(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sys, "argv", ["bench.run"])
    monkeypatch.delenv("BENCH_COUNT_ROUND_TRIPS", raising=False)
    assert parse_arguments().counting
    monkeypatch.setattr(sys, "argv", ["bench.run", "--no-counting"])
    assert not parse_arguments().counting
    monkeypatch.setattr(sys, "argv", ["bench.run"])
    monkeypatch.setenv("BENCH_COUNT_ROUND_TRIPS", "0")
    assert not parse_arguments().counting


def test_sagas_per_second_run_from_the_first_creation_to_the_last_completion() -> None:
    # order id -> (status, created, ended), in seconds
    ended = {f"o{i}": ("COMPLETED", 100.0 + i * 0.1, 100.5 + i * 0.5) for i in range(10)}
    figures = summarise(ended, 10, buckets_s=1.0)
    assert figures["elapsed_s"] == 5.0 and figures["sagas_per_s"] == 2.0
    assert figures["first_completed_s"] == 0.5
    assert figures["completed_by_tenth"][-1] == 10
    assert figures["completions_per_bucket"] == [1, 2, 2, 2, 2, 1]
    assert figures["statuses"] == {"COMPLETED": 10}


def report() -> dict:
    load = {"sagas_per_s": 60.0, "cpu_ms_per_unit_stack": 30.0,
            "cpu_ms_per_unit": {"worker": 10.0, "bench": 2.0}}
    return {"load": load, "one_at_a_time": {"p50_ms": 30.0, "p99_ms": 45.0},
            "polling": {"sagas_per_s": 30.0, "reads_per_order": 24.0,
                        "cpu_ms_per_unit": {"order": 20.0}},
            "waiting": {"sagas_per_s": 55.0, "reads_per_order": 1.0,
                        "cpu_ms_per_unit": {"order": 4.0}},
            "burst": {"first_completed_s": 0.2, "sagas_per_s": 58.0,
                      "completed_by_tenth": list(range(100, 1001, 100))},
            "floor": {"hops_per_s": 2 * 60.0 * SAGA_HOPS,
                      "cpu_ms_per_unit_stack": 30.0 / SAGA_HOPS / 3},
            "floor_one_at_a_time": {"p50_ms": 6.0},
            "settings": {"orders": 400, "clients": 16, "burst": 1000, "one_at_a_time": 100,
                         "production": False},
            "machine": {"cores": 2, "cpu_model": "x", "memory_gb": 1, "python": "3.11"}}


def test_the_headline_compares_a_saga_hop_with_a_floor_hop_by_rate_and_by_cpu() -> None:
    figures = headline(report())
    assert figures["saga_hops_per_s"] == 60.0 * SAGA_HOPS
    assert figures["cost_per_hop_vs_floor"] == 2.0
    assert figures["cpu_per_hop_vs_floor"] == 3.0
    assert figures["cpu_ms_per_saga"] == 30.0 and figures["p50_ms"] == 30.0
    assert (figures["polling_sagas_per_s"], figures["waiting_sagas_per_s"]) == (30.0, 55.0)


def test_the_table_names_every_headline_figure_and_leaves_the_bench_out_of_the_stack() -> None:
    full = report() | headline(report())
    table = markdown(full)
    for figure in ("60.0", "30.0 / 45.0 ms", f"{2 * 60.0 * SAGA_HOPS}", "2.0× / 3.0×",
                   "0.2 s / 58.0", "30.0, 24.0, 20.0 ms / 55.0, 1.0, 4.0 ms",
                   "worker 10.0"):
        assert figure in table
    assert "bench 2.0" not in table


def test_both_stacks_in_one_result_give_the_ratios_issue_22_sets_targets_for() -> None:
    local = report() | headline(report())
    slower = report()
    slower["load"] = slower["load"] | {"sagas_per_s": 45.0, "cpu_ms_per_unit_stack": 36.0}
    slower["one_at_a_time"] = slower["one_at_a_time"] | {"p50_ms": 42.0}
    production = slower | headline(slower)

    figures = ratios(local, production)

    assert figures["production_vs_local_sagas_per_s"] == 0.75
    assert figures["production_vs_local_cpu_per_saga"] == 1.2
    assert figures["cpu_per_hop_vs_floor"] == {"local": 3.0, "production": 3.6}
    assert figures["one_at_a_time_p50_vs_floor"] == {"local": 5.0, "production": 7.0}
    table = ratios_markdown(figures)
    assert "| PostgreSQL + Redis / local: sagas/s | 0.75 | ≥ 0.85 |" in table
    assert "3.0, 3.6 | ≤ 3.5 |" in table


def test_make_up_is_compared_with_the_bench_stack_by_the_medians_of_their_runs() -> None:
    runs = {"bench": [{"sagas_per_s": 40.0, "cpu_ms_per_saga": 40.0},
                      {"sagas_per_s": 50.0, "cpu_ms_per_saga": 36.0},
                      {"sagas_per_s": 44.0, "cpu_ms_per_saga": 38.0}],
            "make up": [{"sagas_per_s": 38.0, "cpu_ms_per_saga": 42.0},
                        {"sagas_per_s": 42.0, "cpu_ms_per_saga": 40.0}]}

    figures = compare(runs)

    assert figures["medians"] == {"bench": {"sagas_per_s": 44.0, "cpu_ms_per_saga": 38.0},
                                  "make up": {"sagas_per_s": 40.0, "cpu_ms_per_saga": 41.0}}
    assert figures["make_up_vs_bench"] == {"sagas_per_s": 0.909, "cpu_ms_per_saga": 1.079}
