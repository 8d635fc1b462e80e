"""The saga metrics, counted by the database (SQLite, and PostgreSQL when configured)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from decimal import Decimal

import pytest
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.parser import text_string_to_metric_families

from sqlalchemy import update

from glastonbury.clock import utc_now as now
from orchestrator.adapters import counters
from orchestrator.adapters.saga_metrics import SagaCollector
from orchestrator.adapters.step_totals import read_step_totals
from orchestrator.adapters.tables import saga_steps
from orchestrator.domain.model import OrderLine, OrderPlaced, SagaState
from orchestrator.domain.saga import StepRun
from tests.unit.orchestrator.store import Store

S = SagaState


@pytest.fixture
def store(database_url: str) -> Iterator[Store]:
    store = Store.at(database_url)
    yield store
    store.dispose()


def scrape(store: Store) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """Every sample as Prometheus would read it off the page: (name, labels) -> value."""
    registry = CollectorRegistry()
    registry.register(SagaCollector(lambda: store.engine))
    text = generate_latest(registry).decode()
    return {(sample.name, tuple(sorted(sample.labels.items()))): sample.value
            for family in text_string_to_metric_families(text) for sample in family.samples}


def saga(store: Store, order_id: str) -> None:
    store.add(OrderPlaced(order_id, "c1", Decimal("20.00"), (OrderLine("t1", 1),)))


def step(store: Store, order_id: str, name: str, outcome: str, took_s: float,
         to: SagaState | None = None) -> None:
    """A finished run of the step, and the state the saga moved to with it."""
    store.record_step(order_id, StepRun(name, outcome, now() - timedelta(seconds=took_s)))
    if to is not None:
        store.put(order_id, to)


def test_an_empty_store_gives_every_state_at_zero(store: Store) -> None:
    metrics = scrape(store)
    assert {labels[0][1] for (name, labels) in metrics if name == "glastonbury_sagas"} == {
        state.value for state in SagaState}
    assert metrics[("glastonbury_sagas_parked", ())] == 0
    assert metrics[("glastonbury_reconciler_passes_total", ())] == 0


def test_states_steps_durations_compensations_repairs_and_dead_letters_are_counted(
        store: Store) -> None:
    saga(store, "done")
    step(store, "done", "reserve_tickets", "reserved", 0.02, S.RESERVED)
    step(store, "done", "await_payment", "approved", 2.0)
    saga(store, "sold-out")
    step(store, "sold-out", "reserve_tickets", "out_of_stock", 0.02, S.COMPENSATING)
    step(store, "sold-out", "fail_order", "failed_order", 0.01)
    saga(store, "stuck")
    store.put("stuck", S.STARTED, parked=True)
    counters.record_reconciler_pass(store.engine, {"driven": 1, "checked": 0, "voided": 0,
                                                   "started": 2})
    counters.count_dead_letters(store.engine, {"unsigned": 2, "contradicted": 1})
    counters.count_dead_letters(store.engine, {"unsigned": 1})

    metrics = scrape(store)
    assert metrics[("glastonbury_sagas", (("state", "RESERVED"),))] == 1
    assert metrics[("glastonbury_sagas", (("state", "COMPENSATING"),))] == 1
    assert metrics[("glastonbury_sagas", (("state", "STARTED"),))] == 1
    assert metrics[("glastonbury_sagas_parked", ())] == 1
    runs = {labels: value for (name, labels), value in metrics.items()
            if name == "glastonbury_saga_steps_total"}
    assert runs[(("result", "passed"), ("step", "reserve_tickets"))] == 1
    assert runs[(("result", "failed"), ("step", "reserve_tickets"))] == 1   # a business no
    assert runs[(("result", "passed"), ("step", "await_payment"))] == 1
    assert metrics[("glastonbury_compensations_total", (("step", "fail_order"),))] == 1
    assert metrics[("glastonbury_compensations_total", (("step", "release_reservation"),))] == 0

    def bucket(le: str) -> float:
        return metrics[("glastonbury_saga_step_duration_seconds_bucket",
                        (("le", le), ("step", "await_payment")))]
    assert (bucket("1.0"), bucket("2.5"), bucket("+Inf")) == (0, 1, 1)
    assert metrics[("glastonbury_saga_step_duration_seconds_sum",
                    (("step", "await_payment"),))] == pytest.approx(2.0, abs=0.5)
    assert metrics[("glastonbury_saga_step_duration_seconds_count",
                    (("step", "reserve_tickets"),))] == 2

    assert metrics[("glastonbury_reconciler_passes_total", ())] == 1
    assert metrics[("glastonbury_reconciler_repairs_total", (("repair", "started"),))] == 2
    assert metrics[("glastonbury_reconciler_last_pass_timestamp_seconds", ())] == pytest.approx(
        now().timestamp(), abs=60)
    assert metrics[("glastonbury_dead_letters_total", (("kind", "unsigned"),))] == 3
    assert metrics[("glastonbury_dead_letters_total", (("kind", "contradicted"),))] == 1


def test_each_finished_run_is_counted_as_it_ends_from_its_first_start(
        store: Store) -> None:
    saga(store, "o1")
    with store.repository() as sagas:   # its first attempt failed
        sagas.note_step_error("o1", "request_payment", "payment down")
    started = now() - timedelta(seconds=0.3)
    with store.transaction() as tx:   # the first attempt began 0.3 s before the second ended
        tx.execute(update(saga_steps).where(saga_steps.c.order_id == "o1")
                   .values(started_at=started))
    step(store, "o1", "request_payment", "payment pending", 0.01)
    step(store, "o1", "check_payment", "payment declined", 0.01)
    step(store, "o1", "check_payment", "payment declined", 0.01)   # checked twice: two runs

    with store.engine.connect() as connection:
        totals = read_step_totals(connection)
    assert (totals["request_payment"].passed, totals["request_payment"].failed) == (1, 0)
    assert totals["request_payment"].seconds == pytest.approx(0.3, abs=0.1)
    assert totals["check_payment"].runs == 2
    metrics = scrape(store)
    assert metrics[("glastonbury_saga_step_duration_seconds_count",
                    (("step", "check_payment"),))] == 2
    assert metrics[("glastonbury_saga_step_duration_seconds_bucket",
                    (("le", "0.25"), ("step", "request_payment")))] == 0
    assert metrics[("glastonbury_saga_step_duration_seconds_bucket",
                    (("le", "0.5"), ("step", "request_payment")))] == 1
