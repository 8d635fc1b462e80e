"""The orchestrator's knobs: time-outs, retries, thresholds. All from the environment.

Tests and demos shorten them (seconds instead of minutes) without touching the code. Each is
declared, with its default and doc, in `glastonbury.settings`.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

from glastonbury import settings


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


@dataclass(frozen=True)
class RetryPolicy:
    """How a step retries technical failures: exponential back-off with jitter, bounded."""

    max_attempts: int
    first_delay: float
    max_delay: float

    @classmethod
    def for_step(cls, step: str) -> RetryPolicy:
        """`SAGA_<STEP>_MAX_ATTEMPTS` etc. override the `STEP_*` defaults for one step."""
        return cls(
            max_attempts=int(settings.step_value(step, "MAX_ATTEMPTS")),
            first_delay=float(settings.step_value(step, "RETRY_DELAY")),
            max_delay=float(settings.step_value(step, "RETRY_MAX_DELAY")),
        )

    def delay(self, retries_so_far: int) -> float:
        """Seconds before the next attempt: doubling, capped, with jitter over its upper half."""
        ceiling = min(self.max_delay, self.first_delay * 2 ** retries_so_far)
        return random.uniform(ceiling / 2, ceiling)
