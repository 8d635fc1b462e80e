"""The floor: plain Celery chains of no-op tasks on the orchestrator's own Celery settings.

`celery -A bench.floor worker -E --concurrency 4 -Q bench.floor` runs them. The app copies the
orchestrator's broker, result backend, late acknowledgement, prefetch and event settings, so the
only difference from a saga's hop is the work inside the task (HTTP calls, database writes).
"""

from __future__ import annotations

import json
import math
import time
from datetime import UTC, datetime

from celery import Celery, chain

from orchestrator.celery_app import app as orchestrator_app

QUEUE = "bench.floor"
# Everything that shapes the cost of one hop; beat_schedule and includes stay out.
COPIED_SETTINGS = (
    "broker_url", "result_backend", "result_expires", "task_serializer", "result_serializer",
    "accept_content", "task_ignore_result", "task_acks_late", "task_reject_on_worker_lost",
    "worker_prefetch_multiplier", "broker_transport_options", "result_backend_transport_options",
    "worker_send_task_events", "task_send_sent_event", "task_track_started",
)

app = Celery("bench_floor")
app.conf.update({name: orchestrator_app.conf[name] for name in COPIED_SETTINGS},
                task_default_queue=QUEUE)


@app.task(name="floor.noop")
def noop(step: int) -> int:
    """A hop that does nothing: what Celery, Redis and the events cost on their own."""
    return step


def run_chains(count: int, hops: int, timeout_s: float = 600) -> dict[str, float]:
    """Send `count` chains of `hops` no-op tasks at once; hops per second and chain latency.

    A chain ends when its last task's result is stored: the backend's own `date_done` is the
    end, so how often this loop looks does not change the figures.
    """
    sent: dict[str, float] = {}
    began = time.time()
    for _ in range(count):
        # Only the last hop stores its result, the bench's way to see the chain end.
        last = noop.si(hops - 1).set(ignore_result=False)
        result = chain(*(noop.si(step) for step in range(hops - 1)), last).apply_async()
        sent[result.id] = time.time()
    done = _wait_for_results(list(sent), began + timeout_s)
    elapsed = max(done.values(), default=began) - began
    latencies = sorted((done[task_id] - sent[task_id]) * 1000 for task_id in done)
    return {"chains": len(done), "hops": hops, "elapsed_s": elapsed,
            "chains_per_s": len(done) / elapsed if elapsed else 0.0,
            "hops_per_s": len(done) * hops / elapsed if elapsed else 0.0,
            "chain_p50_ms": percentile(latencies, 50), "chain_p99_ms": percentile(latencies, 99)}


def _wait_for_results(task_ids: list[str], deadline: float) -> dict[str, float]:
    """task id -> when its result was stored (epoch seconds), for those done by the deadline."""
    client, done = app.backend.client, {}
    while len(done) < len(task_ids) and time.time() < deadline:
        waiting = [task_id for task_id in task_ids if task_id not in done]
        stored = client.mget([app.backend.get_key_for_task(task_id) for task_id in waiting])
        for task_id, raw in zip(waiting, stored, strict=True):
            meta = json.loads(raw) if raw else {}
            if meta.get("status") == "SUCCESS":  # task_track_started stores STARTED first
                moment = datetime.fromisoformat(meta["date_done"])
                done[task_id] = moment.replace(tzinfo=moment.tzinfo or UTC).timestamp()
        time.sleep(0.02)
    return done


def percentile(sorted_values: list[float], pct: float) -> float:
    """The nearest-rank percentile of an already sorted list (0.0 when empty)."""
    if not sorted_values:
        return 0.0
    rank = max(0, min(len(sorted_values) - 1, math.ceil(pct / 100 * len(sorted_values)) - 1))
    return sorted_values[rank]
