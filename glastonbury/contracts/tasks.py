"""The Celery task names the parts send to the orchestrator, which registers them.

The order service sends the start (its only task); beat sends the reconciler's pass; each saga
step is the task `saga.<step>`, the error callback of every chain `saga.on_step_failed`.
"""

PREFIX = "saga."
START = "saga.start"                    # the order service's: an order placed, its saga to run
ON_STEP_FAILED = "saga.on_step_failed"  # linked to the start and to every chain of steps
RECONCILE = "saga.reconcile"            # beat's: one pass over the stuck sagas


def step_task(step: str) -> str:
    """The task that runs a saga step: `saga.<step>`."""
    return PREFIX + step


def task_step(task: str) -> str:
    """The step a `saga.<step>` task runs (the name unchanged if it is no step's)."""
    return task.removeprefix(PREFIX)
