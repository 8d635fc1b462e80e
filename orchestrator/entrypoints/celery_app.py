"""The Celery application: Redis broker and result backend, tasks that survive a dead worker.

`celery -A orchestrator worker` runs it; its tasks are the saga's steps
(`orchestrator.entrypoints.saga_tasks`).
"""

from __future__ import annotations

import logging
from typing import Any

from celery import Celery, Task
from celery.signals import (after_setup_logger, celeryd_init, task_postrun, task_prerun,
                            worker_ready)
from celery.worker.request import Request
from kombu import Queue

from glastonbury import logs, settings, tracing
from glastonbury.auth import order_messages_key
from glastonbury.contracts import tasks
from glastonbury.process import tune_garbage_collector
from glastonbury.celery_apps import broker_settings
from orchestrator.adapters.step_queue import QUEUES, STARTING

class StepRequest(Request):  # type: ignore[misc]
    """A task as the worker runs it, telling Flower when it was received and how it ended.

    "task-started" is left out: it carries nothing but a timestamp, and each event costs the
    worker, Redis and Flower ~0.3 ms of CPU (a third of a hop's events). Flower shows the step's
    runtime from "task-succeeded"; the saga view, each step's start and end from the store.
    """

    def send_event(self, type: str, **fields: Any) -> None:
        if type != "task-started":
            super().send_event(type, **fields)


class SagaTask(Task):  # type: ignore[misc]
    Request = StepRequest


class FireAndForget(Celery):  # type: ignore[misc]
    """The orchestrator's app: nothing it sends waits for a result (`task_ignore_result`), also
    when it sends a task by name that its process has not registered (the bridge's and the
    command line's steps, beat's reconciler passes). Celery reads `task_ignore_result` only
    for a registered task: sent by name, it subscribed to the task's result channel in Redis
    for every task, and redis-py kept each channel's name, the bridge ~0.26 KB a saga for as
    long as it ran (a SUBSCRIBE and an UNSUBSCRIBE a saga in Redis, too)."""

    def send_task(self, *args: Any, **options: Any) -> Any:
        options.setdefault("ignore_result", self.conf.task_ignore_result)
        return super().send_task(*args, **options)


def quiet_when_json(base: type) -> type:
    """Celery's worker or beat, without the banner it prints when LOG_FORMAT=json: every line a
    JSON object (`celery -q` does the same by hand)."""
    class Quiet(base):  # type: ignore[valid-type,misc]
        def __init__(self, *args: Any, quiet: bool = False, **kwargs: Any):
            super().__init__(*args, quiet=quiet or logs.log_format() == "json", **kwargs)
    Quiet.__name__ = Quiet.__qualname__ = base.__name__
    return Quiet


app = FireAndForget("orchestrator", include=["orchestrator.entrypoints.saga_tasks"],
                    task_cls=SagaTask)
app.Worker = quiet_when_json(app.Worker)
app.Beat = quiet_when_json(app.Beat)
# Every setting that shapes the cost of one hop (the bench's floor runs its no-op chains on them).
HOP_SETTINGS = dict(
    # Nothing reads a step's return value (the saga store is the record; Flower reads events):
    # storing it cost every hop four Redis round trips (STARTED and SUCCESS, each read then set).
    task_ignore_result=True,
    # A task is acknowledged only once it has run, and goes back to the queue when its worker
    # dies; every step is idempotent, so running one twice is safe.
    task_acks_late=True,
    task_reject_on_worker_lost=True,
    # One message at a time per worker process: which queue it takes from is decided at the
    # last moment, and a dead worker takes only one message with it.
    worker_prefetch_multiplier=1,
    broker_transport_options={
        # Redis redelivers an unacknowledged task only after this time-out (an hour by default).
        "visibility_timeout": settings.CELERY_VISIBILITY_TIMEOUT.integer(),
        # Always look in QUEUES' order (kombu's default rotates them for fairness).
        "queue_order_strategy": "priority",
    },
    # Flower shows every business step from the events workers send as they receive, start and
    # finish it. "task-sent" would be one more event per hop from every sender (the order
    # service, the bridge, each chained step), and Flower needs none of them.
    worker_send_task_events=True,
    task_send_sent_event=False,
)
app.conf.update(
    broker_settings(settings.redis_url()),
    **HOP_SETTINGS,
    result_backend=settings.redis_url(),
    result_expires=24 * 3600,
    result_backend_transport_options={
        "visibility_timeout": settings.CELERY_VISIBILITY_TIMEOUT.integer()},
    broker_connection_retry_on_startup=True,
    task_queues=[Queue(name) for name in QUEUES],
    task_default_queue=STARTING,
    beat_schedule={
        # A pass that waited in the queue longer than a saga may stand still would take the
        # queue's own backlog for stuck sagas and add to it: such a pass is dropped unrun.
        "reconcile-sagas": {
            "task": tasks.RECONCILE, "schedule": settings.SAGA_RECONCILE_INTERVAL.number(),
            "options": {"expires": max(settings.SAGA_STUCK_AFTER.number(),
                                       settings.SAGA_RECONCILE_INTERVAL.number())}},
    },
)


@celeryd_init.connect
def _log_from_the_start(**_: Any) -> None:
    """The worker's first lines (Celery's warnings at start) in the project's format too; a
    worker without the order messages' key stops here, before it takes a message."""
    logs.configure("worker")
    tracing.configure("worker")
    order_messages_key()


@after_setup_logger.connect
def _one_line_per_step(logger: logging.Logger, **_: Any) -> None:
    """Celery logs two lines per task ("received", "succeeded in"); each saga step logs one of
    its own instead, naming its order (orchestrator.service_layer.runner). Failures still
    log at ERROR. Celery's handlers write the project's lines (glastonbury.logs: LOG_FORMAT,
    order_id)."""
    for name in ("celery.app.trace", "celery.worker.strategy"):
        logging.getLogger(name).setLevel(logging.WARNING)
    for handler in logger.handlers:
        logs.dress(handler, "worker")


def order_of(args: Any) -> str | None:
    """The order a task works on: its message's `orderId` (a step, the start), or that of the
    failed task's message an error callback receives."""
    for arg in args or ():
        if isinstance(arg, dict) and isinstance(arg.get("orderId"), str):
            return arg["orderId"]
        inner = getattr(arg, "args", None)
        if inner and arg is not inner:
            found = order_of(inner)
            if found:
                return found
    return None


@task_prerun.connect
def _about_its_order(args: Any = None, **_: Any) -> None:
    # Every line logged while the task runs names its order, Celery's failure lines included
    # (they are logged before task_postrun).
    logs.set_order(order_of(args))


@task_postrun.connect
def _done_with_its_order(**_: Any) -> None:
    logs.set_order(None)


@worker_ready.connect
def _tune_gc(**_: Any) -> None:
    tune_garbage_collector()
