"""The orchestrator's knobs: time-outs, retries, thresholds, as the environment sets them.

Tests and demos shorten them (seconds instead of minutes) without touching the code. Each is
declared, with its default and doc, in `glastonbury.settings`.
"""

from __future__ import annotations

from dataclasses import replace

from glastonbury import settings
from orchestrator.domain.steps import RetryPolicy, StepDeclaration


def payment_result_timeout() -> float:
    """Seconds a saga waits for its payment result before it asks the payment service."""
    return settings.PAYMENT_RESULT_TIMEOUT.number()


def stuck_after() -> float:
    """Seconds without progress after which the reconciler drives a saga on."""
    return settings.SAGA_STUCK_AFTER.number()


def reconcile_interval() -> float:
    return settings.SAGA_RECONCILE_INTERVAL.number()


def max_drives() -> int:
    """How often the reconciler re-drives one saga before parking it for a person."""
    return settings.SAGA_MAX_DRIVES.integer()


def step_attempt_limit() -> int:
    """Attempts at one step, across re-deliveries and re-drives, before it is parked."""
    return settings.SAGA_STEP_ATTEMPT_LIMIT.integer()


def visibility_timeout() -> int:
    """Seconds before Redis hands an unacknowledged task (its worker died) to another worker."""
    return settings.CELERY_VISIBILITY_TIMEOUT.integer()


def retry_policy(step: StepDeclaration) -> RetryPolicy:
    """The step's declared retry policy, with the numbers `SAGA_<STEP>_*` or `STEP_*` set."""
    declared = step.retry
    assert declared is not None, f"{step.name} is a wait, not a task: it is never retried"
    max_attempts = settings.step_value(step.name, "MAX_ATTEMPTS")
    first_delay = settings.step_value(step.name, "RETRY_DELAY")
    max_delay = settings.step_value(step.name, "RETRY_MAX_DELAY")
    return replace(declared,
                   max_attempts=int(max_attempts) if max_attempts else declared.max_attempts,
                   first_delay=float(first_delay) if first_delay else declared.first_delay,
                   max_delay=float(max_delay) if max_delay else declared.max_delay)
