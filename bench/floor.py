"""The floor: plain Celery chains of no-op tasks on the orchestrator's own Celery settings.

The bench runs its worker with the saga worker's own command line (`-A bench.floor` instead of
`-A orchestrator`, plus `-Q bench.floor`). The app has the settings every part's app has
(glastonbury.celery_apps: broker, transport, JSON) and the orchestrator's settings that shape a
hop (`HOP_SETTINGS`: late acknowledgement, prefetch, events, ...), so the only difference from a
saga's hop is the work inside the task (HTTP calls, database writes).

A chain's last hop pushes its end time on a Redis list, where the bench waits for it (BLPOP): no
result backend, no polling of result keys.
"""

from __future__ import annotations

import math
import time

import redis
from celery import Celery, chain

from bench.progress import Progress
from glastonbury.celery_apps import broker_settings
from orchestrator.entrypoints.celery_app import HOP_SETTINGS
from orchestrator.entrypoints.celery_app import app as orchestrator_app

QUEUE = "bench.floor"
DONE = "bench.floor.done"

# Queues, routes and the beat schedule stay the orchestrator's own.
app = Celery("bench_floor")
app.conf.update(broker_settings(orchestrator_app.conf.broker_url), **HOP_SETTINGS,
                result_backend=orchestrator_app.conf.result_backend, task_default_queue=QUEUE)


@app.task(name="floor.noop")
def noop(step: int, last: bool = False) -> int:
    """A hop that does nothing: what Celery, Redis and the events cost on their own."""
    if last:
        _redis().rpush(DONE, time.time())
    return step


_client: redis.Redis | None = None


def _redis() -> redis.Redis:
    global _client
    if _client is None:
        _client = redis.Redis.from_url(app.conf.broker_url)
    return _client


def run_chains(count: int, hops: int, timeout_s: float = 600,
               progress: Progress | None = None) -> dict[str, float]:
    """Send `count` chains of `hops` no-op tasks at once; hops per second and chain latency."""
    progress = progress or Progress.quiet()
    client = _redis()
    client.delete(DONE)
    began = time.time()
    with progress.phase("chains sent", total=count) as phase:
        for _ in range(count):
            chain(*(noop.si(step) for step in range(hops - 1)),
                  noop.si(hops - 1, True)).apply_async()
            phase.advance()
    ends = []
    deadline = began + timeout_s
    with progress.phase("chains ended", total=count) as phase:
        while len(ends) < count and time.time() < deadline:
            popped = client.blpop([DONE], timeout=5)
            if popped:
                ends.append(float(popped[1]))
                phase.advance()
    elapsed = max(ends, default=began) - began
    return {"chains": len(ends), "hops": hops, "elapsed_s": round(elapsed, 3),
            "hops_per_s": round(len(ends) * hops / elapsed, 1) if elapsed else 0.0}


def one_at_a_time(count: int, hops: int, progress: Progress | None = None) -> dict[str, float]:
    """Chains one after the other: the latency of `hops` bare hops on a quiet stack."""
    progress = progress or Progress.quiet()
    client = _redis()
    client.delete(DONE)
    latencies = []
    with progress.phase("chains ended, one at a time", total=count) as phase:
        for _ in range(count):
            sent = time.time()
            chain(*(noop.si(step) for step in range(hops - 1)),
                  noop.si(hops - 1, True)).apply_async()
            popped = client.blpop([DONE], timeout=30)
            if popped:
                latencies.append((float(popped[1]) - sent) * 1000)
            phase.advance()
    latencies.sort()
    return {"chains": len(latencies), "hops": hops,
            "p50_ms": round(percentile(latencies, 50), 2)}


def percentile(sorted_values: list[float], pct: float) -> float:
    """The nearest-rank percentile of an already sorted list (0.0 when empty)."""
    if not sorted_values:
        return 0.0
    rank = max(0, min(len(sorted_values) - 1, math.ceil(pct / 100 * len(sorted_values)) - 1))
    return sorted_values[rank]
