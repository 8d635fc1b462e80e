"""The orchestrator: the Celery app that alone decides each saga's next step.

`celery -A orchestrator worker` runs its steps; `orchestrator/service_layer/saga.py` is the flow.
"""

from orchestrator.entrypoints.celery_app import app

__all__ = ["app"]
