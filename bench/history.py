"""`python -m bench.history`: the reads of a saga store with a long history behind it.

Finished sagas pile up (60 a second is 5 million a day). This fills a fresh PostgreSQL database
(TEST_DATABASE_URL's server) with `--sagas` finished sagas of four step records each, a few live,
parked, stuck or failed among them, migrates it to head (which takes the step totals from the
records), then times what is asked of the store often: a Prometheus scrape, the dashboard's
sagas page, the reconciler's pass, the command line's lists. Each is timed once warm.
Writes bench/results/<timestamp>-history.json.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from prometheus_client import CollectorRegistry, generate_latest
from sqlalchemy import text

from bench.run import RESULTS, machine
from glastonbury.db import make_engine
from glastonbury.migrate import upgrade
from orchestrator.adapters import saga_views
from orchestrator.adapters.saga_metrics import SagaCollector
from orchestrator.adapters import reconciler_queries, saga_list
from orchestrator.adapters.tables import SCHEMA
from orchestrator.entrypoints.dashboard import diagram
from tests.conftest import fresh_postgres_database

STUCK_AFTER = timedelta(seconds=60)
FILL = """
INSERT INTO sagas (order_id, state, customer_id, total, lines, payment_requested,
                   payment_to_void, drives, parked, created_at, updated_at)
SELECT 'o' || g, CASE WHEN g % 50 = 0 THEN 'PAYMENT_FAILED' ELSE 'COMPLETED' END, 'c',
       '200.00', '[]', true, false, 0, false, now() - interval '1 day' + g * interval '1 ms',
       now() - interval '1 day' + g * interval '1 ms'
FROM generate_series(1, :sagas) AS g;
INSERT INTO saga_steps (order_id, name, started_at, ended_at, attempts, outcome)
SELECT 'o' || g, step, now() - interval '1 day' + g * interval '1 ms',
       now() - interval '1 day' + g * interval '1 ms' + interval '12 ms', 1,
       CASE step WHEN 'reserve_tickets' THEN 'reserved' WHEN 'await_payment' THEN 'approved'
                 ELSE 'done' END
FROM generate_series(1, :sagas) AS g, unnest(ARRAY['reserve_tickets', 'request_payment',
                                                   'await_payment', 'finalise_order']) AS step;
UPDATE sagas SET parked = true WHERE order_id IN ('o5', 'o7');
UPDATE sagas SET state = 'AWAITING_PAYMENT', updated_at = now() - interval '2 hours'
WHERE order_id IN ('o9', 'o11');
UPDATE saga_steps SET outcome = 'failed' WHERE order_id = 'o13' AND name = 'finalise_order';
ANALYZE;
"""


def timed(read: Callable[[], Any]) -> float:
    """Milliseconds of one warm call."""
    read()
    began = time.perf_counter()
    read()
    return round((time.perf_counter() - began) * 1000, 1)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sagas", type=int, default=1_000_000)
    args = parser.parse_args()
    os.environ.setdefault("TEST_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/test")
    try:
        make_engine(os.environ["TEST_DATABASE_URL"]).connect().close()
    except Exception as error:  # noqa: BLE001 - any reason: say it and stop
        sys.exit(f"bench.history needs PostgreSQL ({os.environ['TEST_DATABASE_URL']}); "
                 f"not measured: {error}")
    with fresh_postgres_database() as url:
        engine = make_engine(url)
        try:
            upgrade(engine, SCHEMA, revision="0003")   # before the step totals
            began = time.perf_counter()
            with engine.begin() as connection:
                for statement in FILL.split(";"):
                    if statement.strip():
                        connection.execute(text(statement), {"sagas": args.sagas})
            filled_s = time.perf_counter() - began
            began = time.perf_counter()
            upgrade(engine, SCHEMA)
            migrated_s = time.perf_counter() - began
            report = measure(engine) | {"sagas": args.sagas, "step_records": 4 * args.sagas,
                                        "fill_s": round(filled_s, 1),
                                        "migrate_to_head_s": round(migrated_s, 1)}
        finally:
            engine.dispose()
    report |= {"machine": machine(), "finished_at": datetime.now(UTC).isoformat(timespec="seconds")}
    RESULTS.mkdir(parents=True, exist_ok=True)
    path = RESULTS / f"{datetime.now(UTC):%Y%m%dT%H%M%SZ}-history.json"
    path.write_text(json.dumps(report, indent=2) + "\n")
    print(json.dumps({key: value for key, value in report.items() if key != "machine"}, indent=2))
    print(f"written to {path.relative_to(RESULTS.parent.parent)}", file=sys.stderr)


def measure(engine: Any) -> dict[str, Any]:
    registry = CollectorRegistry()
    registry.register(SagaCollector(lambda: engine))
    return {"ms": {
        "prometheus scrape": timed(lambda: generate_latest(registry)),
        "dashboard: step figures": timed(lambda: saga_views.step_figures(engine, diagram.STEPS)),
        "dashboard: sagas by state": timed(lambda: saga_views.counts_by_state(engine)),
        "dashboard: needing a person": timed(
            lambda: saga_views.needs_a_person_counts(engine, STUCK_AFTER)),
        "dashboard: latest sagas": timed(lambda: saga_views.find_sagas(engine, STUCK_AFTER)),
        "dashboard: sagas with a failed step": timed(
            lambda: saga_views.find_sagas(engine, STUCK_AFTER, needs="failed")),
        "reconciler: stuck": timed(lambda: reconciler_queries.stuck_sagas(engine, STUCK_AFTER)),
        "reconciler: payments to void": timed(
            lambda: reconciler_queries.payments_to_void(engine, STUCK_AFTER)),
        "cli: list --state stuck": timed(
            lambda: saga_list.list_sagas(engine, stuck_after=STUCK_AFTER)),
        "cli: list --state parked": timed(
            lambda: saga_list.list_sagas(engine, parked=True, unfinished=True)),
    }, "needing_a_person": saga_views.needs_a_person_counts(engine, STUCK_AFTER)}


if __name__ == "__main__":
    main()
