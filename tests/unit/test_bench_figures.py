"""The bench's arithmetic: percentiles, the worker's concurrency, the headline and its table."""

from __future__ import annotations

from bench.floor import percentile
from bench.run import SAGA_HOPS, headline, markdown, worker_concurrency


def test_percentiles_are_nearest_rank() -> None:
    values = [float(v) for v in range(1, 101)]
    assert percentile(values, 50) == 50.0
    assert percentile(values, 99) == 99.0
    assert percentile([7.0], 99) == 7.0
    assert percentile([], 50) == 0.0


def test_the_concurrency_is_read_from_the_procfile_worker_line() -> None:
    assert worker_concurrency("celery -A orchestrator worker -E --concurrency 4 -n w@%h") == 4
    assert worker_concurrency("celery -A orchestrator worker --concurrency=3") == 3


def test_the_headline_compares_a_saga_hop_with_a_floor_hop() -> None:
    report = {"burst": {"sagas_per_s": 60.0, "p50_ms": 40.0, "p99_ms": 90.0},
              "idle": {"p50_ms": 30.0, "p99_ms": 45.0},
              "floor": {"hops_per_s": 600.0}}
    figures = headline(report)
    assert figures["saga_hops_per_s"] == 60.0 * SAGA_HOPS
    assert figures["cost_per_hop_vs_floor"] == 2.0


def test_the_table_names_every_headline_figure() -> None:
    report = {"burst": {"sagas_per_s": 60.0, "p50_ms": 40.0, "p99_ms": 90.0},
              "idle": {"p50_ms": 30.0, "p99_ms": 45.0}, "floor": {"hops_per_s": 600.0},
              "settings": {"orders": 1000, "worker_concurrency": 4},
              "machine": {"cores": 2, "cpu_model": "x", "memory_gb": 1, "python": "3.11"}}
    report |= headline(report)
    table = markdown(report)
    for figure in ("60.0", "40.0 / 90.0", "30.0 / 45.0", "300.0", "600.0", "2.0×"):
        assert figure in table
