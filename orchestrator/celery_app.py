"""The Celery application: Redis broker and result backend, tasks that survive a dead worker."""

from __future__ import annotations

from celery import Celery

from glastonbury import settings
from orchestrator import config

app = Celery("orchestrator", include=["orchestrator.saga", "orchestrator.reconciler"])
app.conf.update(
    broker_url=settings.redis_url(),
    result_backend=settings.redis_url(),
    # Nothing reads a step's return value (the saga store is the record; Flower reads events):
    # storing it cost every hop four Redis round trips (STARTED and SUCCESS, each read then set).
    task_ignore_result=True,
    result_expires=24 * 3600,
    task_serializer="json",
    result_serializer="json",
    accept_content=["json"],
    # A task is acknowledged only once it has run, and goes back to the queue when its worker
    # dies; every step is idempotent, so running one twice is safe.
    task_acks_late=True,
    task_reject_on_worker_lost=True,
    worker_prefetch_multiplier=1,
    # Redis redelivers an unacknowledged task only after this time-out (an hour by default).
    broker_transport_options={"visibility_timeout": config.visibility_timeout()},
    result_backend_transport_options={"visibility_timeout": config.visibility_timeout()},
    broker_connection_retry_on_startup=True,
    # Flower shows every business step only when workers send task events.
    worker_send_task_events=True,
    task_send_sent_event=True,
    task_track_started=True,
    beat_schedule={
        # A pass that waited in the queue longer than a saga may stand still would take the
        # queue's own backlog for stuck sagas and add to it: such a pass is dropped unrun.
        "reconcile-sagas": {"task": "saga.reconcile", "schedule": config.reconcile_interval(),
                            "options": {"expires": max(config.stuck_after(),
                                                       config.reconcile_interval())}},
    },
)
