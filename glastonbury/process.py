"""Start-up settings every long-running process of the stack shares."""

from __future__ import annotations

import gc

# A saga step, a request or a Kafka poll allocates thousands of short-lived objects; with
# Python's default young-generation threshold (700) the cyclic collector ran several times for
# each, scanning the process's long-lived objects (modules, the app, pools) again and again.
YOUNG_GENERATION_THRESHOLD = 50_000


def tune_garbage_collector() -> None:
    """Call once start-up is done: what exists by then lives as long as the process, and
    `gc.freeze` takes it out of every later collection; young objects are collected in larger
    batches. Measured: ~8 % less CPU per Celery hop (bench/README.md)."""
    gc.collect()
    gc.freeze()
    _, middle, old = gc.get_threshold()
    gc.set_threshold(YOUNG_GENERATION_THRESHOLD, middle, old)
