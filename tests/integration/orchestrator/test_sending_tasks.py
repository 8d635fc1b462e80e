"""What the orchestrator's app leaves behind when it sends a task, on a real Redis."""

from __future__ import annotations

import redis

from glastonbury.celery_apps import broker_settings
from glastonbury.contracts import tasks
from orchestrator.entrypoints.celery_app import HOP_SETTINGS, app as orchestrator_app

QUEUE = "probe.nobody-consumes"


def test_a_task_sent_by_name_subscribes_to_no_result_channel(redis_url: str) -> None:
    """The bridge sends finalise_order by name (its process registers no step): each send used
    to subscribe to the task's result channel, and the channel's name stayed in the process's
    memory (the bridge grew ~0.26 KB a saga) though nothing ever reads a step's result."""
    app = type(orchestrator_app)("probe", set_as_current=False)
    app.conf.update(broker_settings(redis_url), **HOP_SETTINGS, result_backend=redis_url)
    try:
        for number in range(3):
            app.send_task(tasks.START, args=[{"orderId": f"probe-{number}"}], queue=QUEUE)
        consumer = app.backend.result_consumer
        subscribed = consumer._pubsub.channels if consumer._pubsub is not None else {}
        assert not subscribed, f"subscribed to {list(subscribed)}"
        # What a caller asks for explicitly it still gets.
        app.send_task(tasks.START, args=[{"orderId": "probe-kept"}], queue=QUEUE,
                      ignore_result=False)
        assert consumer._pubsub is not None and consumer._pubsub.channels
    finally:
        redis.Redis.from_url(redis_url).delete(QUEUE)
        app.close()
