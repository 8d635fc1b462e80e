"""The orchestrator: the Celery app that alone decides each saga's next step.

`celery -A orchestrator worker` runs its steps; `orchestrator/saga.py` is the flow.
"""

from orchestrator.celery_app import app

__all__ = ["app"]
