"""The orchestrator: it alone decides each saga's next step.

The flow is `orchestrator/domain/flow.py`. `celery -A orchestrator worker` runs its steps: Celery
finds the app in `orchestrator/celery.py`, so importing the orchestrator (its domain, say) loads
no Celery.
"""
