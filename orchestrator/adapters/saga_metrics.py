"""Saga metrics for Prometheus, read from the saga store at each scrape (no second record).

The dashboard serves them in Flower's `/metrics`, behind the same login. Everything is counted
by the database: sagas by state, parked sagas, each step's runs (passed or failed) and their
durations as a histogram (the wait for the payment included; from `step_totals`, which each
run's end adds to, so a scrape reads a row a step, not the history), compensation steps, the
reconciler's passes and repairs, and the payment results the bridge dead-lettered.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

from prometheus_client import REGISTRY
from prometheus_client.core import (CounterMetricFamily, GaugeMetricFamily,
                                    HistogramMetricFamily, Metric)
from prometheus_client.registry import Collector
from prometheus_client.utils import floatToGoString
from sqlalchemy import func, select
from sqlalchemy.engine import Connection, Engine

from glastonbury.db import reading
from orchestrator.adapters.step_totals import StepTotals, read_step_totals
from orchestrator.adapters.tables import (DURATION_BUCKETS, PARKED, REPAIRS, aware, dead_letters,
                                          reconciler_passes, sagas)
from orchestrator.domain.flow import SAGA
from orchestrator.domain.model import SagaState

PREFIX = "glastonbury"


class SagaCollector(Collector):  # type: ignore[misc]
    """The saga store's figures as Prometheus metric families; `engine()` names the store."""

    def __init__(self, engine: Callable[[], Engine]):
        self.engine = engine

    def collect(self) -> Iterator[Metric]:
        with reading(self.engine()) as connection:
            totals = read_step_totals(connection)
            yield from step_runs(totals)
            yield step_durations(totals)
            yield from sagas_by_state(connection)
            yield from reconciler(connection)
            yield dead_lettered(connection)


def sagas_by_state(connection: Connection) -> Iterator[Metric]:
    by_state = GaugeMetricFamily(f"{PREFIX}_sagas", "Sagas in each state now.", labels=["state"])
    counts: dict[str, int] = {row[0]: row[1] for row in connection.execute(
        select(sagas.c.state, func.count()).group_by(sagas.c.state))}
    for state in SagaState:
        by_state.add_metric([state.value], counts.get(state.value, 0))
    yield by_state
    parked = connection.execute(select(func.count()).where(PARKED)).scalar()
    yield GaugeMetricFamily(f"{PREFIX}_sagas_parked",
                            "Sagas the reconciler gave up driving: they wait for a person.",
                            value=parked or 0)


def step_runs(totals: dict[str, StepTotals]) -> Iterator[Metric]:
    """Finished runs by step and result, as the dashboard counts them."""
    runs = CounterMetricFamily(f"{PREFIX}_saga_steps",
                               "Finished runs of each saga step, by result (passed or failed).",
                               labels=["step", "result"])
    compensations = CounterMetricFamily(f"{PREFIX}_compensations",
                                        "Compensation steps run, by step.", labels=["step"])
    for name, total in sorted(totals.items()):
        runs.add_metric([name, "passed"], total.passed)
        runs.add_metric([name, "failed"], total.failed)
    for name in (step.name for step in SAGA.compensation()):
        compensations.add_metric([name], totals[name].runs if name in totals else 0)
    yield runs
    yield compensations


def step_durations(totals: dict[str, StepTotals]) -> Metric:
    histogram = HistogramMetricFamily(
        f"{PREFIX}_saga_step_duration_seconds",
        "How long each finished step took, from its first start to its end (await_payment: "
        "the wait for the payment result).", labels=["step"])
    for name, total in sorted(totals.items()):
        buckets: list[tuple[str, float]] = [
            (floatToGoString(bound), count)
            for bound, count in zip(DURATION_BUCKETS, total.at_most, strict=True)]
        histogram.add_metric([name], [*buckets, ("+Inf", total.runs)], total.seconds)
    return histogram


def reconciler(connection: Connection) -> Iterator[Metric]:
    row = connection.execute(select(reconciler_passes)).first()
    yield CounterMetricFamily(f"{PREFIX}_reconciler_passes", "Passes of the reconciler.",
                              value=row.passes if row else 0)
    repairs = CounterMetricFamily(f"{PREFIX}_reconciler_repairs",
                                  "What the reconciler repaired: sagas driven, payment waits "
                                  "checked, payments voided, orphan orders started.",
                                  labels=["repair"])
    for repair in REPAIRS:
        repairs.add_metric([repair], getattr(row, f"{repair}_total") if row else 0)
    yield repairs
    if row is not None:
        yield GaugeMetricFamily(f"{PREFIX}_reconciler_last_pass_timestamp_seconds",
                                "When the reconciler last ran (Unix time).",
                                value=_timestamp(row.last_pass_at))


def dead_lettered(connection: Connection) -> Metric:
    family = CounterMetricFamily(f"{PREFIX}_dead_letters",
                                 "Payment results the bridge put on the dead-letter topic, by "
                                 "why.", labels=["kind"])
    for row in connection.execute(select(dead_letters.c.kind, dead_letters.c.count)
                                  .order_by(dead_letters.c.kind)):
        family.add_metric([row[0]], row[1])
    return family


def _timestamp(moment: Any) -> float:
    moment = aware(moment)
    return moment.timestamp() if moment else 0.0


_installed: list[SagaCollector] = []


def install(engine: Callable[[], Engine]) -> None:
    """Serve the saga metrics from this process's default registry (Flower's `/metrics`); once."""
    if not _installed:
        collector = SagaCollector(engine)
        REGISTRY.register(collector)
        _installed.append(collector)
